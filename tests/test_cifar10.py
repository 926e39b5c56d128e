"""The CIFAR-10 loader on tiny generated files in both official release formats."""

from __future__ import annotations

import inspect
import pickle
from pathlib import Path

import numpy as np
import pytest

from reference.cifar10 import CifarError, CifarSplit, load_cifar10

PER_BATCH = 20  # the real release has 10,000; the loader must not assume it
SPLIT = dict(num_training=80, num_validation=20, num_test=10)


def make_batches(seed: int = 0) -> list[tuple[np.ndarray, list[int]]]:
    """Five training batches then the test batch, each (uint8 data (20, 3072), labels)."""
    rng = np.random.RandomState(seed)
    batches = []
    for _ in range(6):
        data = rng.randint(0, 256, size=(PER_BATCH, 3072)).astype(np.uint8)
        labels = [int(v) for v in rng.randint(0, 10, size=PER_BATCH)]
        batches.append((data, labels))
    return batches


BATCH_NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def write_python_release(parent: Path, batches, protocol: int = 2) -> Path:
    """Pickled dicts with b"data"/b"labels" (plus the release's other keys), as the real files hold."""
    folder = parent / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name, (data, labels) in zip(BATCH_NAMES, batches, strict=True):
        entry = {
            b"batch_label": name.encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
        }
        with open(folder / name, "wb") as fh:
            pickle.dump(entry, fh, protocol=protocol)
    return folder


def write_binary_release(parent: Path, batches) -> Path:
    """Records of one label byte followed by 3072 pixel bytes."""
    folder = parent / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for name, (data, labels) in zip(BATCH_NAMES, batches, strict=True):
        with open(folder / f"{name}.bin", "wb") as fh:
            for row, label in zip(data, labels, strict=True):
                fh.write(bytes([label]))
                fh.write(row.tobytes())
    return folder


def pixel_major(data: np.ndarray) -> np.ndarray:
    """The exercise's (32, 32, 3) flattening, written out index by index."""
    n = data.shape[0]
    out = np.empty((n, 3072), dtype=np.float64)
    for row in range(32):
        for col in range(32):
            for ch in range(3):
                out[:, (row * 32 + col) * 3 + ch] = data[:, ch * 1024 + row * 32 + col]
    return out


def expected_split(batches, num_training=80, num_validation=20, num_test=10, subtract_mean=True):
    train_data = np.concatenate([d for d, _ in batches[:5]])
    train_labels = np.concatenate([np.array(lab) for _, lab in batches[:5]])
    X_tr = pixel_major(train_data[:num_training])
    X_va = pixel_major(train_data[num_training : num_training + num_validation])
    X_te = pixel_major(batches[5][0][:num_test])
    if subtract_mean:
        mean = X_tr.sum(axis=0) / num_training
        X_tr, X_va, X_te = X_tr - mean, X_va - mean, X_te - mean
    return (
        X_tr,
        train_labels[:num_training],
        X_va,
        train_labels[num_training : num_training + num_validation],
        X_te,
        np.array(batches[5][1][:num_test]),
    )


def assert_split_matches(split: CifarSplit, batches, **kwargs):
    X_tr, y_tr, X_va, y_va, X_te, y_te = expected_split(batches, **kwargs)
    for got, want in ((split.X_train, X_tr), (split.X_val, X_va), (split.X_test, X_te)):
        assert got.dtype == np.float32
        assert got.shape == want.shape
        # Computed in float64 and rounded to float32 once: equal to the last bit.
        assert np.array_equal(got, want.astype(np.float32))
    for got, want in ((split.y_train, y_tr), (split.y_val, y_va), (split.y_test, y_te)):
        assert got.dtype == np.int64
        assert np.array_equal(got, want)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_python_release_split_sizes_order_and_mean(tmp_path, protocol):
    batches = make_batches()
    write_python_release(tmp_path, batches, protocol=protocol)
    split = load_cifar10(tmp_path, **SPLIT)
    assert (split.X_train.shape, split.X_val.shape, split.X_test.shape) == (
        (80, 3072),
        (20, 3072),
        (10, 3072),
    )
    assert_split_matches(split, batches)
    # The mean training image was subtracted: the training rows now average to zero.
    assert np.abs(split.X_train.astype(np.float64).mean(axis=0)).max() < 1e-4


def test_binary_release_split_sizes_order_and_mean(tmp_path):
    batches = make_batches(1)
    write_binary_release(tmp_path, batches)
    split = load_cifar10(tmp_path, **SPLIT)
    assert_split_matches(split, batches)


def test_release_folder_itself_or_its_parent(tmp_path):
    batches = make_batches(2)
    py = write_python_release(tmp_path / "a", batches)
    binary = write_binary_release(tmp_path / "b", batches)
    for folder in (py, py.parent, str(py), binary, binary.parent):
        assert_split_matches(load_cifar10(folder, **SPLIT), batches)


def test_both_formats_give_the_same_arrays(tmp_path):
    batches = make_batches(3)
    a = load_cifar10(write_python_release(tmp_path / "a", batches), **SPLIT)
    b = load_cifar10(write_binary_release(tmp_path / "b", batches), **SPLIT)
    for field in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        assert np.array_equal(getattr(a, field), getattr(b, field))


def test_validation_is_taken_right_after_training_across_batches(tmp_path):
    batches = make_batches(4)
    write_binary_release(tmp_path, batches)
    split = load_cifar10(tmp_path, num_training=30, num_validation=25, num_test=20)
    assert_split_matches(split, batches, num_training=30, num_validation=25, num_test=20)


def test_normalising_block_by_block_changes_no_value(tmp_path, monkeypatch):
    # Blocks of 7 rows: every split ends inside a block, and the mean is still of all training rows.
    monkeypatch.setattr("reference.cifar10.ROWS_PER_BLOCK", 7)
    batches = make_batches(6)
    write_python_release(tmp_path, batches)
    for subtract_mean in (True, False):
        split = load_cifar10(tmp_path, subtract_mean=subtract_mean, **SPLIT)
        assert_split_matches(split, batches, subtract_mean=subtract_mean)


def test_without_mean_subtraction_values_are_raw_pixels(tmp_path):
    batches = make_batches(5)
    write_python_release(tmp_path, batches)
    split = load_cifar10(tmp_path, subtract_mean=False, **SPLIT)
    assert_split_matches(split, batches, subtract_mean=False)
    assert split.X_train.min() >= 0 and split.X_train.max() <= 255


def test_missing_folder(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(CifarError, match="not found") as info:
        load_cifar10(missing)
    assert str(missing) in str(info.value)


def test_folder_without_a_release(tmp_path):
    (tmp_path / "something_else").mkdir()
    with pytest.raises(CifarError, match="cifar-10-batches-py"):
        load_cifar10(tmp_path)


@pytest.mark.parametrize("writer", [write_python_release, write_binary_release])
def test_missing_batch_file_is_named(tmp_path, writer):
    folder = writer(tmp_path, make_batches())
    victim = next(folder.glob("data_batch_3*"))
    victim.unlink()
    with pytest.raises(CifarError, match="missing") as info:
        load_cifar10(tmp_path, **SPLIT)
    assert victim.name in str(info.value)


def test_truncated_binary_file_is_named(tmp_path):
    folder = write_binary_release(tmp_path, make_batches())
    victim = folder / "data_batch_2.bin"
    victim.write_bytes(victim.read_bytes()[:-100])
    with pytest.raises(CifarError, match="3073") as info:
        load_cifar10(tmp_path, **SPLIT)
    message = str(info.value)
    assert "data_batch_2.bin" in message and "\n" not in message


def test_empty_binary_file_is_named(tmp_path):
    folder = write_binary_release(tmp_path, make_batches())
    (folder / "test_batch.bin").write_bytes(b"")
    with pytest.raises(CifarError, match="test_batch.bin.*empty"):
        load_cifar10(tmp_path, **SPLIT)


def test_truncated_python_file_is_named(tmp_path):
    folder = write_python_release(tmp_path, make_batches())
    victim = folder / "data_batch_4"
    victim.write_bytes(victim.read_bytes()[:5000])
    with pytest.raises(CifarError, match="truncated") as info:
        load_cifar10(tmp_path, **SPLIT)
    assert "data_batch_4" in str(info.value)
    assert "\n" not in str(info.value)


def test_python_batch_with_wrong_column_count(tmp_path):
    batches = make_batches()
    batches[0] = (batches[0][0][:, :3000].copy(), batches[0][1])
    write_python_release(tmp_path, batches)
    with pytest.raises(CifarError, match=r"data_batch_1.*3072"):
        load_cifar10(tmp_path, **SPLIT)


def test_python_batch_with_label_count_mismatch(tmp_path):
    batches = make_batches()
    batches[1] = (batches[1][0], batches[1][1][:-1])
    write_python_release(tmp_path, batches)
    with pytest.raises(CifarError, match=r"data_batch_2.*19 labels for 20 images"):
        load_cifar10(tmp_path, **SPLIT)


def test_binary_label_out_of_range(tmp_path):
    folder = write_binary_release(tmp_path, make_batches())
    raw = bytearray((folder / "data_batch_5.bin").read_bytes())
    raw[0] = 200
    (folder / "data_batch_5.bin").write_bytes(bytes(raw))
    with pytest.raises(CifarError, match=r"data_batch_5.bin.*0\.\.9"):
        load_cifar10(tmp_path, **SPLIT)


class _Exploit:
    """A pickle that would run a command if the loader trusted the file's globals."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_python_loader_refuses_arbitrary_globals(tmp_path):
    folder = write_python_release(tmp_path / "data", make_batches())
    marker = tmp_path / "pwned"
    with open(folder / "data_batch_1", "wb") as fh:
        pickle.dump({b"data": _Exploit(marker), b"labels": []}, fh, protocol=2)
    with pytest.raises(CifarError, match=r"data_batch_1.*refusing"):
        load_cifar10(tmp_path / "data", **SPLIT)
    assert not marker.exists()


def test_not_enough_images_for_the_requested_split(tmp_path):
    write_binary_release(tmp_path, make_batches())
    with pytest.raises(CifarError, match="100 training images"):
        load_cifar10(tmp_path, num_training=90, num_validation=20, num_test=10)
    with pytest.raises(CifarError, match="20 test images"):
        load_cifar10(tmp_path, num_training=80, num_validation=20, num_test=21)


def test_default_split_is_the_exercise_split():
    """49,000 / 1,000 / 1,000 needs the full-size release: check the defaults instead of the data."""
    params = inspect.signature(load_cifar10).parameters
    assert params["num_training"].default == 49000
    assert params["num_validation"].default == 1000
    assert params["num_test"].default == 1000
    assert params["subtract_mean"].default is True
