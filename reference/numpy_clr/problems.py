"""The seeded problems the handout publishes numbers for, and CIFAR-10 in the handout's layout.

Everything here is numpy only and deterministic: the same seed gives the same arrays on every
machine, so students can rebuild the problems from the recipes in the handout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reference.cifar10 import load_cifar10
from reference.numpy_clr.network import one_hot
from reference.numpy_clr.training import TrainParams

K = 10
#: Hidden units of the network in every configuration.
HIDDEN = 50
#: The check problem's size: 20 images, their first 10 dimensions.
TOY_N, TOY_D = 20, 10
TOY_SEED = 0
TOY_LAM = 0.01
#: Step of the centred differences in the handout's gradient check.
NUM_H = 1e-5

#: Configuration 1 of the handout (one cycle = 10 epochs on 10,000 images).
CONFIG_1: TrainParams = {"n_batch": 100, "eta_min": 1e-5, "eta_max": 1e-1, "n_s": 500, "cycles": 1}
CONFIG_1_LAM = 0.01
#: The reduced configuration 1: 1,000 images of 100 dimensions, still one cycle = 10 epochs.
REDUCED: TrainParams = {"n_batch": 100, "eta_min": 1e-5, "eta_max": 1e-1, "n_s": 50, "cycles": 1}
REDUCED_N, REDUCED_N_VAL, REDUCED_D, REDUCED_SEED, REDUCED_INIT_SEED = 1000, 500, 100, 1, 2
#: Training images of the uneven run (``REDUCED`` on fewer images): n % n_batch != 0, the last epoch partial.
UNEVEN_N = 950


@dataclass(frozen=True)
class Problem:
    """Inputs of a check: data, labels and the weights to start from."""

    X: np.ndarray
    Y: np.ndarray
    y: np.ndarray
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray

    @property
    def weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.W1, self.b1, self.W2, self.b2


def toy_problem(seed: int = TOY_SEED, n: int = TOY_N, d: int = TOY_D, m: int = HIDDEN, k: int = K) -> Problem:
    """Standard-normal ``X`` (``d x n``), uniform labels, and weights with non-zero biases (so a
    forward pass that forgets a bias shows), drawn in this order from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((d, n))
    y = rng.integers(0, k, n)
    W1 = rng.normal(0.0, 1.0 / np.sqrt(d), (m, d))
    b1 = rng.normal(0.0, 0.1, (m, 1))
    W2 = rng.normal(0.0, 1.0 / np.sqrt(m), (k, m))
    b2 = rng.normal(0.0, 0.1, (k, 1))
    return Problem(X, one_hot(y, k), y, W1, b1, W2, b2)


def class_templates(seed: int, n: int, d: int, k: int = K, noise: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Learnable synthetic data: each class a fixed random pattern plus noise; ``(X, y)``, ``X`` ``d x n``.

    The first ``k`` columns hold one image of every class. ``X`` is standardised per dimension.
    """
    rng = np.random.default_rng(seed)
    templates = rng.standard_normal((d, k))
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)
    X = templates[:, y] + noise * rng.standard_normal((d, n))
    X = (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)
    return X, y


def reduced_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X, Y, X_val, Y_val)`` of the reduced configuration 1 (training and validation from one draw)."""
    X, y = class_templates(REDUCED_SEED, REDUCED_N + REDUCED_N_VAL, REDUCED_D)
    train, val = slice(0, REDUCED_N), slice(REDUCED_N, None)
    return X[:, train], one_hot(y[train], K), X[:, val], one_hot(y[val], K)


def uneven_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The reduced configuration 1's data with only its first ``UNEVEN_N`` training images: with
    ``REDUCED`` an epoch is 9 batches (50 columns left over) and the 100 updates end one update into
    the 12th epoch."""
    X, Y, X_val, Y_val = reduced_data()
    return np.ascontiguousarray(X[:, :UNEVEN_N]), np.ascontiguousarray(Y[:, :UNEVEN_N]), X_val, Y_val


@dataclass(frozen=True)
class CifarColumns:
    """CIFAR-10 in the handout's layout: ``d x n`` float64 images standardised with the training
    set's per-dimension mean and standard deviation, and integer labels."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _standardised(X: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Rows -> columns, standardised with the mean and std of ``X`` alone (float64 statistics)."""
    mean = X.mean(axis=0, dtype=np.float64)
    std = X.std(axis=0, dtype=np.float64)
    std[std == 0] = 1.0  # a constant pixel carries no information; keep it finite
    # Transposing a C-ordered n x d array gives a Fortran-ordered d x n one: one image per contiguous
    # column. float64, because numpy multiplies float64 weights with float32 data several times slower.
    return [((A - mean) / std).T for A in (X, *others)]


def cifar_splits(folder: Path) -> tuple[CifarColumns, CifarColumns]:
    """The two data sets of the handout from one read of the release:

    - configuration 1: batch 1 for training, batch 2 for validation, the test batch for testing;
    - the final run: all five training batches minus the last 5,000 images (validation).

    Each is standardised with its own training images' statistics.
    """
    split = load_cifar10(folder, 45000, 5000, 10000, subtract_mean=False)
    rows = [split.X_train[:10000], split.X_train[10000:20000], split.X_test]
    X, X_val, X_test = _standardised(*rows)
    first = CifarColumns(X, split.y_train[:10000], X_val, split.y_train[10000:20000], X_test, split.y_test)
    X, X_val, X_test = _standardised(split.X_train, split.X_val, split.X_test)
    final = CifarColumns(X, split.y_train, X_val, split.y_val, X_test, split.y_test)
    return first, final
