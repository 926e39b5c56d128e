"""Shared inputs and helpers of the torch-backprop checks.

Expected values come from ``reference.torch_backprop`` here, in the trusted process; the sandboxed
submission only receives inputs and initial weights, and sends back gradients, parameters and
losses that the checks validate before comparing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from grader.pack import CheckFailed, Remote, Student, as_array, relative_errors, worst

MODULE = "backprop"
FILE = "backprop.py"


@dataclass(frozen=True)
class Problem:
    """A network (sizes, activations, initial weights) and one batch of inputs and targets."""

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    arrays: tuple[np.ndarray, ...]
    X: np.ndarray
    Y: np.ndarray

    @property
    def depth(self) -> int:
        return len(self.sizes) - 1

    def describe(self) -> str:
        layers = ", ".join(f"{s}" for s in self.sizes)
        return f"MyNet([{layers}], {list(self.activations)}) on a batch of {self.X.shape[0]}"


def make_problem(sizes: Sequence[int], activations: Sequence[str], n: int, seed: int) -> Problem:
    """Weights as ``MyNet`` draws them after ``torch.manual_seed(seed)``, and a normal batch."""
    from reference.torch_backprop.net import initial_arrays

    arrays = initial_arrays(sizes, activations, seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    Y = rng.normal(size=(n, sizes[-1]))
    return Problem(tuple(sizes), tuple(activations), tuple(arrays), X, Y)


def param_names(depth: int) -> list[str]:
    """``named_parameters()`` of a ``MyNet`` with ``depth`` layers."""
    return [f"fc.{layer}.{kind}" for layer in range(1, depth + 1) for kind in ("weight", "bias")]


def gradient_names(depth: int) -> list[str]:
    """The student's gradients in parameter order, as the handout names them."""
    return [f"{kind}[{layer}]" for layer in range(1, depth + 1) for kind in ("dL_dw", "dL_db")]


def student_net(student: Student, problem: Problem) -> Remote:
    """A student ``MyNet`` of the problem's shape holding the problem's initial weights."""
    model = student.new(MODULE, "MyNet", list(problem.sizes), list(problem.activations), seed=0)
    names, _ = model.torch_params()
    if names != param_names(problem.depth):
        raise CheckFailed(
            f"MyNet's parameters are {names}, expected {param_names(problem.depth)} (keep MyNet as given)"
        )
    model.torch_load(list(problem.arrays))
    return model


def student_arrays(model: Remote, problem: Problem, what: str) -> list[np.ndarray]:
    """The model's parameters, validated against the problem's shapes."""
    names, arrays = model.torch_params()
    if names != param_names(problem.depth) or type(arrays) is not list:
        raise CheckFailed(f"{what}: the model's parameters changed names or number")
    return [
        as_array(a, f"{what}: {name}", want.shape) for a, name, want in zip(arrays, names, problem.arrays, strict=True)
    ]


def relative_error(actual: np.ndarray, expected: np.ndarray) -> tuple[float, list[int]]:
    """The assignment's worst relative error, ``|a - e| / max(1e-8, |a| + |e|)``, and where."""
    return worst(relative_errors(actual, expected))


def data_objects(student: Student, X: object, Y: object, batch_size: int, shuffle: bool = False) -> Remote:
    """A ``DataLoader`` over ``ArrayDataset(X, Y)`` built in the worker from the handout's names."""
    dataset = student.new(MODULE, "ArrayDataset", X, Y)
    return student.new(MODULE, "DataLoader", dataset.ref, batch_size=batch_size, shuffle=shuffle)


def as_losses(value: object, n_epochs: int, what: str) -> np.ndarray:
    """A per-epoch loss history: a list (or array) of ``n_epochs`` finite numbers."""
    if type(value) is list:
        # Python numbers, or 0-d arrays when the student kept tensors (loss instead of loss.item()).
        scalars = [v.item() if type(v) is np.ndarray and v.shape == () else v for v in value]
        if all(type(v) in (int, float) for v in scalars):
            value = np.asarray(scalars, dtype=np.float64)
    if type(value) is np.ndarray and value.ndim == 1 and value.dtype.kind in "iu":
        value = value.astype(np.float64)
    return as_array(value, what, (n_epochs,))
