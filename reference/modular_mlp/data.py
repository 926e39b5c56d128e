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

from reference.cifar10 import CifarSplit, load_cifar10

#: The split of the 50,000 CIFAR-10 training images into training and validation.
NUM_TRAINING = 45_000
NUM_VALIDATION = 5_000
NUM_TEST = 10_000
FILES = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")


def standardised_split(cifar_dir: str | Path) -> CifarSplit:
    """CIFAR-10 read from its release folder, split 45,000/5,000/10,000 and standardised."""
    split = load_cifar10(cifar_dir, NUM_TRAINING, NUM_VALIDATION, NUM_TEST, subtract_mean=True)
    scale = np.float32(split.X_train.std(dtype=np.float64))
    for name in ("X_train", "X_val", "X_test"):
        setattr(split, name, getattr(split, name) / scale)
    return split


def write_folder(split: CifarSplit, folder: str | Path, with_test: bool = False) -> None:
    """Write the split as the data folder (the test files only when ``with_test``)."""
    folder = Path(folder)
    for name in FILES if with_test else FILES[:4]:
        array = getattr(split, name)
        np.save(folder / f"{name}.npy", array.astype(np.int64 if name.startswith("y") else np.float32))


def load_folder(folder: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a data folder (memory-mapped images; absent test files are left out)."""
    folder = Path(folder)
    out = {}
    for name in FILES:
        path = folder / f"{name}.npy"
        if path.is_file():
            out[name] = np.load(path, mmap_mode="r" if name.startswith("X") else None, allow_pickle=False)
    return out
