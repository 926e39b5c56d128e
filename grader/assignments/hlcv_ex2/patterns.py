"""What an error looks like, when no entry of the mistake catalogue matches it.

Feedback such as "max relative error 1.0e+00 at [3]" tells a student little; the shape of the
difference often tells more: an exact factor between the value and the expected one, errors of the
size float32 rounding leaves, only some entries (the biases, the true-class column) being off.
"""

from __future__ import annotations

import numpy as np

#: Relative errors between these bounds, with everything else right, are what float32 rounding leaves.
FLOAT32_BAND = (1e-9, 1e-4)

#: The words every float32 pattern contains (the checks name the float32 mistake on them).
FLOAT32_WORDS = "float32 rounding size"

#: Exact factors worth naming: (factor, words).
_FACTORS = ((2.0, "2"), (0.5, "1/2"), (-1.0, "-1"))


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(1e-12, np.abs(a) + np.abs(b)))) if a.size else 0.0


def factor_between(got: np.ndarray, expected: np.ndarray, n: int | None = None) -> str | None:
    """Words for an exact factor ``got = f * expected`` (2, 1/2, -1, N, 1/N), or None."""
    candidates = list(_FACTORS)
    if n is not None and n > 2:
        candidates += [(float(n), "N (the batch size)"), (1.0 / n, "1/N (the batch size)")]
    for factor, words in candidates:
        if np.any(expected != 0) and _rel(got, factor * expected) < 1e-6:
            return f"your value is exactly {words} times the expected one"
    return None


def float32_sized(got: np.ndarray, expected: np.ndarray) -> bool:
    """True when the differences are of float32 rounding size."""
    error = _rel(got, expected)
    return FLOAT32_BAND[0] < error < FLOAT32_BAND[1]


def describe_arrays(got: np.ndarray, expected: np.ndarray, n: int | None = None) -> str | None:
    """A sentence on the difference between one returned array and the expected one, or None."""
    if float32_sized(got, expected):
        return "the errors are of float32 rounding size (~1e-7): an array is float32 somewhere; keep float64"
    factor = factor_between(got, expected, n)
    if factor:
        return factor
    if not np.any(got) and np.any(expected):
        return "your array is all zeros"
    return None


def describe_gradients(got: dict[str, np.ndarray], expected: dict[str, np.ndarray], n: int, limit: float) -> str | None:
    """The error pattern over all four gradients: which ones are off, and how."""
    wrong = [k for k in expected if not _rel(got[k], expected[k]) < limit]
    if not wrong:
        return None
    if all(float32_sized(got[k], expected[k]) for k in wrong):
        return (
            "error pattern: errors of float32 rounding size (~1e-7) only; an array is float32 somewhere, keep float64"
        )
    parts = []
    if set(wrong) == {"b1", "b2"}:
        parts.append("only the bias gradients are wrong (db is the sum of the upstream gradient over the batch)")
    elif set(wrong) == {"W1", "W2"}:
        parts.append("only the weight gradients are wrong (look at the terms only W has: X.T, a2.T and 2*reg*W)")
    elif set(wrong) == {"W1", "b1"}:
        parts.append("only the first layer's gradients are wrong (the step back through W2 and the ReLU)")
    for key in wrong:
        words = describe_arrays(got[key], expected[key], n)
        if words:
            parts.append(f"d{key}: {words}")
    return "error pattern: " + "; ".join(parts) if parts else None


def describe_probs(got: np.ndarray, expected: np.ndarray, y: np.ndarray | None = None) -> str | None:
    """The error pattern of an (N, C) array of probabilities."""
    if float32_sized(got, expected):
        return "error pattern: errors of float32 rounding size (~1e-7); keep float64"
    if y is not None:
        rows = np.arange(len(y))
        off = ~np.isclose(got, expected, rtol=1e-6, atol=1e-9)
        if off.any() and off[rows, y].all() and off.sum() == len(y):
            return "error pattern: only the true-class entries are wrong"
    if not np.allclose(got.sum(axis=1), 1, atol=1e-6):
        return "error pattern: the rows do not sum to 1 (softmax normalises each row, axis=1)"
    return None


def describe_scalar(got: float, expected: float, n: int | None = None) -> str | None:
    """Words for a scalar that differs by an exact factor or by float32 rounding."""
    return describe_arrays(np.array([got]), np.array([expected]), n)
