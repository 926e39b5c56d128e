"""Numerical gradients and the relative-error measure the assignment grades with."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Denominator floor from docs/assignments/hlcv-ex2.md: keeps 0/0 (both gradients exactly zero) at 0.
_FLOOR = 1e-8


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Centred-difference gradient of the scalar ``f(x)`` with respect to the array ``x``.

    ``x`` is perturbed in place one element at a time (so ``f`` may ignore its
    argument and read ``x`` through a closure, as ``lambda _: net.loss(X, y)[0]``
    does) and every element is restored to its exact original value.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError("numerical_gradient needs a floating-point numpy array to perturb")
    grad = np.zeros_like(x, dtype=np.float64)
    for ix in np.ndindex(x.shape):
        original = x[ix]
        try:
            x[ix] = original + h
            f_plus = float(f(x))
            x[ix] = original - h
            f_minus = float(f(x))
        finally:
            # Restore the saved value rather than adding h back: no rounding drift.
            x[ix] = original
        grad[ix] = (f_plus - f_minus) / (2.0 * h)
    return grad


def _as_pair(a: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {n.shape}")
    return a, n


def worst_relative_error(a: np.ndarray, n: np.ndarray) -> tuple[float, tuple[int, ...] | None]:
    """Largest elementwise ``|a-n| / max(1e-8, |a|+|n|)`` and the index where it occurs.

    Any NaN or infinity in either array gives ``(inf, index of the first one)``:
    a broken gradient must never pass as a small error. Empty arrays give
    ``(0.0, None)``.
    """
    a, n = _as_pair(a, n)
    if a.size == 0:
        return 0.0, None
    bad = ~(np.isfinite(a) & np.isfinite(n))
    if bad.any():
        flat = int(np.flatnonzero(bad)[0])
        return float("inf"), tuple(int(i) for i in np.unravel_index(flat, a.shape))
    rel = np.abs(a - n) / np.maximum(_FLOOR, np.abs(a) + np.abs(n))
    flat = int(np.argmax(rel))
    return float(rel.flat[flat]), tuple(int(i) for i in np.unravel_index(flat, a.shape))


def relative_error(a: np.ndarray, n: np.ndarray) -> float:
    """Largest elementwise ``|a-n| / max(1e-8, |a|+|n|)``; ``inf`` if anything is non-finite."""
    return worst_relative_error(a, n)[0]
