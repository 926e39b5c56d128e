"""Pack-wide helpers and fixtures of the modular-mlp checks (registered by the engine as a plugin).

Inputs are drawn here, on the trusted side; expected values come from ``reference.modular_mlp``.
The submission only ever receives inputs and its replies are validated before any comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from grader.pack import CheckFailed, Remote, Student, as_array, close_relative
from reference.gradcheck import numerical_gradient

MODULES = "modules"
MLP_NUMPY = "mlp_numpy"
MLP_TORCH = "mlp_pytorch"
BATCHNORM = "custom_batchnorm"
FILES = {name: f"{name}.py" for name in (MODULES, MLP_NUMPY, MLP_TORCH, BATCHNORM)}
#: A mutant "matches" when the student's output is this close to it (relative).
MUTANT_MATCH = 1e-6
#: How a comparison with numerical gradients is named in feedback.
NUMERIC = "against centred differences of your forward"
#: The ELU's alpha in the module checks (not 1, so that a forgotten alpha shows).
ELU_ALPHA = 0.7


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], margin: float = 0.05) -> np.ndarray:
    """Normal samples pushed at least ``margin`` from 0 (centred differences stay off the kinks)."""
    x = rng.normal(0, 1, shape)
    return np.sign(x) * (margin + np.abs(x))


def linear_problem(seed: int, n: int = 4, d_in: int = 5, d_out: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.normal(0, 1, (n, d_in)),
        "weight": rng.normal(0, 0.5, (d_out, d_in)),
        "bias": rng.normal(0, 0.1, (1, d_out)),
        "dout": rng.normal(0, 1, (n, d_out)),
    }


def labels(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    y = rng.integers(0, c, n)
    y[: min(n, c)] = np.arange(min(n, c))  # every class present
    return y


def probabilities(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    e = np.exp(rng.normal(0, 1, (n, c)))
    return e / e.sum(axis=1, keepdims=True)


def mistake_in(
    check: Any, actual: Any, catalogue: Sequence[tuple[str, Callable[..., Any]]], *args: Any, key: str | None = None
) -> str | None:
    """Name (on ``check``) the first catalogue entry whose output equals ``actual``, before validation.

    ``actual`` may have any shape: a wrong shape is often the mistake itself. With ``key`` the
    variants return dicts and only that entry is compared.
    """
    if type(actual) is not np.ndarray or actual.dtype.kind != "f" or not np.isfinite(actual).all():
        return None
    for name, variant in catalogue:
        expected = variant(*args)
        if key is not None:
            if key not in expected:
                continue
            expected = expected[key]
        expected = np.asarray(expected, dtype=np.float64)
        if expected.shape == actual.shape and close_relative(actual.astype(np.float64), expected, MUTANT_MATCH)[0]:
            check.diagnose(name)
            return name
    return None


def compare(name: str, actual: Any, expected: np.ndarray, limit: float) -> str | None:
    """The failure message for ``actual`` against ``expected`` (validated first), or None when close."""
    try:
        value = as_array(actual, name, expected.shape)
    except CheckFailed as exc:
        return exc.message
    ok, error, where = close_relative(value, expected, limit)
    if ok:
        return None
    return f"{name}: max relative error {error:.1e} at {where} (limit {limit:.0e})"


def finish(check: Any, failures: list[str], parts: int) -> None:
    """Partial credit for the parts that passed; one message naming every part that did not."""
    check.partial((parts - len(failures)) / parts)
    if failures:
        raise CheckFailed("; ".join(failures))


def numeric_gradient_of(f: Callable[[np.ndarray], float], at: np.ndarray) -> np.ndarray:
    """Centred differences (h = 1e-5) of a scalar function of one array, computed on a copy."""
    return numerical_gradient(f, np.array(at, dtype=np.float64))


def student_linear(student: Student, weight: np.ndarray, bias: np.ndarray, input_layer: bool = False) -> Remote:
    """A student LinearModule holding the given parameters."""
    d_out, d_in = weight.shape
    layer = student.new(MODULES, "LinearModule", d_in, d_out, input_layer=input_layer, seed=0)
    layer.set("params", "weight", value=weight.copy())
    layer.set("params", "bias", value=bias.copy())
    return layer


def student_mlp(student: Student, params: list[dict[str, np.ndarray]]) -> Remote:
    """A student MLP whose Linear layers hold ``params`` (``layers[0]``, ``layers[2]``, ...)."""
    sizes = [p["weight"].shape for p in params]
    model = student.new(MLP_NUMPY, "MLP", sizes[0][1], [s[0] for s in sizes[:-1]], sizes[-1][0], seed=0)
    for i, p in enumerate(params):
        for key in ("weight", "bias"):
            model.set("layers", 2 * i, "params", key, value=p[key].copy())
    return model


def mlp_params(seed: int, sizes: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """Random parameters of an MLP with the given widths (inputs, hidden..., classes)."""
    rng = np.random.default_rng(seed)
    return [
        {"weight": rng.normal(0, 0.6, (b, a)), "bias": rng.normal(0, 0.1, (1, b))}
        for a, b in zip(sizes[:-1], sizes[1:], strict=False)
    ]
