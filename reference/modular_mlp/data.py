"""The data folder the students' ``train`` functions read, and how the grader prepares it.

A folder of ``.npy`` files: ``X_train`` ``(N, 3072)`` float32, ``y_train`` ``(N,)`` int64, ``X_val``,
``y_val`` and, outside the grader, ``X_test``/``y_test``. Images are standardised: the mean training
image subtracted, then divided by the standard deviation of all training pixels (one number). The
grader mounts only the training and validation files (validation images are training images);
the test split stays on the trusted side and measures the returned model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reference.cifar10 import CifarSplit, _locate_release, _read_release, _to_rows

#: The last tenth of the training images is the validation split (5,000 of CIFAR-10's 50,000).
VALIDATION_FRACTION = 10
FILES = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")


def standardised_split(cifar_dir: str | Path) -> CifarSplit:
    """CIFAR-10 read from its release folder, split 45,000/5,000/10,000 (training, validation, the
    whole test batch) and standardised with the training images' statistics."""
    x_all, y_all, x_test, y_test = _read_release(*_locate_release(Path(cifar_dir)))
    n_train = len(y_all) - len(y_all) // VALIDATION_FRACTION
    x_train, x_val, x_test = _to_rows(x_all[:n_train]), _to_rows(x_all[n_train:]), _to_rows(x_test)
    mean = x_train.mean(axis=0)
    # In chunks: the centred float64 copy of 45,000 images would take another 1.1 GB.
    squares = sum(float(((x_train[i : i + 5000] - mean) ** 2).sum()) for i in range(0, n_train, 5000))
    scale = np.sqrt(squares / max(x_train.size, 1))
    rows = [((x - mean) / scale).astype(np.float32) for x in (x_train, x_val, x_test)]
    labels = [np.asarray(y, dtype=np.int64) for y in (y_all[:n_train], y_all[n_train:], y_test)]
    return CifarSplit(rows[0], labels[0], rows[1], labels[1], rows[2], labels[2])


def folder_arrays(split: CifarSplit, with_test: bool = False) -> dict[str, np.ndarray]:
    """The data folder's arrays by name, as stored (the test arrays only when ``with_test``)."""
    return {
        name: getattr(split, name).astype(np.int64 if name.startswith("y") else np.float32)
        for name in (FILES if with_test else FILES[:4])
    }


def write_folder(split: CifarSplit, folder: str | Path, with_test: bool = False) -> None:
    """Write the split as the data folder (the test files only when ``with_test``)."""
    for name, array in folder_arrays(split, with_test).items():
        np.save(Path(folder) / f"{name}.npy", array)


def load_folder(folder: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a data folder (memory-mapped images; absent test files are left out)."""
    folder = Path(folder)
    out = {}
    for name in FILES:
        path = folder / f"{name}.npy"
        if path.is_file():
            out[name] = np.load(path, mmap_mode="r" if name.startswith("X") else None, allow_pickle=False)
    return out
