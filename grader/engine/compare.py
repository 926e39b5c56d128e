"""Validation and comparison of values returned by a submission, on the trusted side.

Fail closed: every value is checked for type, exact shape, dtype kind and finiteness before any
tolerance, and a comparison passes only when ``error < limit`` is explicitly true (NaN never passes).
Messages say what was compared, where, by how much, and the limit.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class CheckFailed(AssertionError):
    """A check's verdict with a student-facing message (and optionally a named common mistake)."""

    def __init__(self, message: str, diagnosis: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.diagnosis = diagnosis


def describe(value: Any) -> str:
    """A short description of what came back, for error messages."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"


def as_array(value: Any, name: str, shape: tuple[int, ...], kinds: str = "f") -> np.ndarray:
    """Validate an array reply: exact shape, dtype kind among ``kinds``, all finite. Returns float64.

    ``kinds``: ``"f"`` floats, ``"iu"`` integers. No broadcasting and no scalar stand-ins.
    """
    if type(value) is not np.ndarray:
        raise CheckFailed(f"{name}: expected a numpy array of shape {shape}, got {describe(value)}")
    if value.shape != shape:
        raise CheckFailed(f"{name}: shape {value.shape}, expected {shape}")
    if value.dtype.kind not in kinds:
        wanted = {"f": "floating-point", "iu": "integer"}.get(kinds, kinds)
        raise CheckFailed(f"{name}: dtype {value.dtype}, expected a {wanted} array")
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        bad = np.argwhere(~np.isfinite(value))[0]
        raise CheckFailed(f"{name}: contains {value[tuple(bad)]} at {list(bad)} (values must be finite)")
    return value.astype(np.float64) if value.dtype.kind == "f" else value.astype(np.int64)


def as_float(value: Any, name: str) -> float:
    """Validate a scalar reply (a Python number or a 0-d array); must be finite."""
    if type(value) is np.ndarray and value.shape == () and value.dtype.kind in "fiu":
        value = value.item()
    if type(value) not in (int, float):
        raise CheckFailed(f"{name}: expected a number, got {describe(value)}")
    value = float(value)
    if not np.isfinite(value):
        raise CheckFailed(f"{name}: is {value} (must be finite)")
    return value


def as_dict(value: Any, name: str, keys: list[str]) -> dict[str, Any]:
    """Validate a dict reply holding exactly ``keys`` (extra keys are reported too)."""
    if type(value) is not dict:
        raise CheckFailed(f"{name}: expected a dict with keys {keys}, got {describe(value)}")
    missing = [k for k in keys if k not in value]
    if missing:
        raise CheckFailed(f"{name}: missing key(s) {missing}")
    return value


def relative_errors(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Element-wise ``|a - e| / max(1e-8, |a| + |e|)``, the assignment's measure."""
    return np.abs(actual - expected) / np.maximum(1e-8, np.abs(actual) + np.abs(expected))


def worst(errors: np.ndarray) -> tuple[float, list[int]]:
    """The largest error and its index; NaN counts as the worst possible."""
    if errors.size == 0:
        return 0.0, []
    errors = np.where(np.isnan(errors), np.inf, errors)
    flat = int(np.argmax(errors))
    return float(errors.flat[flat]), [int(i) for i in np.unravel_index(flat, errors.shape)]


def close_relative(actual: np.ndarray, expected: np.ndarray, limit: float) -> tuple[bool, float, list[int]]:
    """True when the max relative error is strictly below ``limit``."""
    error, where = worst(relative_errors(actual, expected))
    return bool(error < limit), error, where


def require_relative(name: str, actual: np.ndarray, expected: np.ndarray, limit: float) -> float:
    """Raise :class:`CheckFailed` unless the max relative error is below ``limit``; return the error."""
    ok, error, where = close_relative(actual, expected, limit)
    if not ok:
        at = f" at {where}" if where else ""
        raise CheckFailed(f"{name}: max relative error {error:.1e}{at} (limit {limit:.0e})")
    return error


def require_close(name: str, actual: float, expected: float, limit: float) -> None:
    """Raise unless ``|actual - expected| < limit``."""
    difference = abs(actual - expected)
    if not difference < limit:
        raise CheckFailed(
            f"{name}: got {actual:.11f}, expected {expected:.11f} (difference {difference:.1e}, limit {limit:.0e})"
        )
