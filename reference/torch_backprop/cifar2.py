"""CIFAR-2: airplane (label 0) against bird (label 1) from CIFAR-10, normalised and split.

The training set is every airplane and bird of CIFAR-10's training batches, the test set every
airplane and bird of its test batch. Pixels are scaled to [0, 1] and normalised per channel with
the training set's mean and standard deviation; the training set is then split 90/10 into
training and validation by a permutation drawn with ``numpy.random.default_rng(SEED)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reference.cifar10 import load_release, to_rows
from reference.torch_backprop.net import MyNet, load_arrays

#: CIFAR-10 labels kept, in the order of their new labels 0 and 1.
CLASSES = (0, 2)  # airplane, bird
#: The network students train: 3072-512-128-32-2, ReLU on the hidden layers, linear output.
SIZES = (3072, 512, 128, 32, 2)
ACTIVATIONS = ("relu", "relu", "relu", "identity")
SEED = 265
VALIDATION_FRACTION = 0.1
CHANNELS = 3


@dataclass
class Cifar2:
    """Normalised float32 (N, 3072) images (pixel-major, as ``reference.cifar10``) and int64 labels."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def select(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The images of :data:`CLASSES`, relabelled 0 and 1."""
    keep = np.isin(y, CLASSES)
    return X[keep], (y[keep] == CLASSES[1]).astype(np.int64)


def channel_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (population) standard deviation of pixel-major rows scaled to [0, 1]."""
    pixels = (X.astype(np.float64) / 255.0).reshape(-1, CHANNELS)
    return pixels.mean(axis=0), pixels.std(axis=0)


def normalise(X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Scale to [0, 1], then subtract ``mean`` and divide by ``std`` channel by channel."""
    n = X.shape[0]
    pixels = (X.astype(np.float64) / 255.0).reshape(n, -1, CHANNELS)
    return ((pixels - mean) / std).reshape(n, -1).astype(np.float32)


def split_indices(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices: the first 90% and the last 10% of a seeded permutation."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * VALIDATION_FRACTION))
    return order[: n - n_val], order[n - n_val :]


def load_cifar2(folder: str | Path) -> Cifar2:
    """Read CIFAR-10 from ``folder`` and build CIFAR-2 (raises ``CifarError`` with one line)."""
    X_train_raw, y_train_raw, X_test_raw, y_test_raw = load_release(folder)
    # Select the two classes before converting: a fifth of the release, in float64.
    X_all, y_all = select(X_train_raw, y_train_raw)
    X_test, y_test = select(X_test_raw, y_test_raw)
    X_all, X_test = to_rows(X_all), to_rows(X_test)
    mean, std = channel_stats(X_all)
    X_all = normalise(X_all, mean, std)
    train, val = split_indices(len(y_all))
    return Cifar2(
        X_train=X_all[train],
        y_train=y_all[train],
        X_val=X_all[val],
        y_val=y_all[val],
        X_test=normalise(X_test, mean, std),
        y_test=y_test,
        mean=mean,
        std=std,
    )


def accuracy(arrays: list[np.ndarray], X: np.ndarray, y: np.ndarray, batch: int = 2048) -> float:
    """Accuracy of the CIFAR-2 network with parameters ``arrays`` (float64 forward pass)."""
    model = MyNet(SIZES, ACTIVATIONS)
    load_arrays(model, arrays)
    correct = 0
    with torch.no_grad():
        for start in range(0, len(y), batch):
            logits = model(torch.as_tensor(np.asarray(X[start : start + batch], dtype=np.float64)))
            correct += int((logits.argmax(dim=1).numpy() == y[start : start + batch]).sum())
    return correct / max(len(y), 1)
