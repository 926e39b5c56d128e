"""Pack-wide fixtures and helpers of the numpy-clr checks (registered by the engine as a plugin).

Expected values come from ``reference.numpy_clr`` here, in the trusted process; the sandboxed
submission only ever receives inputs, and its replies are validated before any comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from grader.pack import CheckFailed, as_array, close_relative, describe
from reference.numpy_clr import GRADIENT_NAMES
from reference.numpy_clr.problems import Problem, toy_problem

FILE = "two_layer_clr.py"
MODULE = "two_layer_clr"
HYPERPARAMS = "hyperparams.json"


@pytest.fixture(scope="session")
def toy() -> Problem:
    """The handout's check problem: 20 images, their first 10 dimensions, m = 50 (seed 0)."""
    return toy_problem()


def arrays_of(value: Any, name: str, count: int) -> list[np.ndarray]:
    """A tuple reply of ``count`` numpy arrays (shapes not yet checked), or CheckFailed."""
    if type(value) is not list or len(value) != count:
        raise CheckFailed(f"{name} must return a tuple of {count} arrays, got {describe(value)}")
    for i, item in enumerate(value):
        if type(item) is not np.ndarray or item.dtype.kind not in "fiu":
            raise CheckFailed(f"{name}: item {i} must be a numeric numpy array, got {describe(item)}")
    return value


def shaped(arrays: Sequence[np.ndarray], names: Sequence[str], shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """Validate each array's exact shape and finiteness; float64 copies."""
    return [as_array(a, n, s) for a, n, s in zip(arrays, names, shapes, strict=True)]


def matches(actual: Sequence[np.ndarray], expected: Sequence[np.ndarray], limit: float = 1e-6) -> bool:
    """Same shapes and every array within ``limit`` relative error (for naming a mistake)."""
    if len(actual) != len(expected):
        return False
    for a, e in zip(actual, expected, strict=True):
        e = np.asarray(e, dtype=np.float64)
        if a.shape != e.shape or not np.all(np.isfinite(a)) or not close_relative(a.astype(np.float64), e, limit)[0]:
            return False
    return True


def name_mistake(
    check: Any, actual: Sequence[np.ndarray], mutants: Sequence[tuple[str, Callable[..., Any]]], *args: Any
) -> str | None:
    """Run each mutant on ``args``; record and return the first whose output ``actual`` matches."""
    for name, mutant in mutants:
        try:
            expected = mutant(*args)
        except (ValueError, FloatingPointError):  # a mutant that cannot run on these inputs matches nothing
            continue
        if matches(actual, expected):
            check.diagnose(name)
            return name
    return None


def gradient_shapes(W1: np.ndarray, W2: np.ndarray) -> list[tuple[int, ...]]:
    """Shapes of (grad_W1, grad_b1, grad_W2, grad_b2): the weights' own shapes, biases as columns."""
    return [W1.shape, (W1.shape[0], 1), W2.shape, (W2.shape[0], 1)]


def grad_labels(prefix: str = "grad_") -> list[str]:
    return [prefix + name for name in GRADIENT_NAMES]
