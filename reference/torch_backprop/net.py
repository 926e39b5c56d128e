"""``MyNet``, its activations, the squared-error loss and backpropagation written by hand."""

# ruff: noqa: E741 - `l` is the layer index of the assignment's notation (a[l], z[l], dL_dw[l])

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

#: The reference computes in float64, as the handout does; set per tensor, never as torch's global default,
#: because the grader's process is shared by every pack it grades.
DTYPE = torch.float64

Activation = Callable[[torch.Tensor], torch.Tensor]


def _identity(z: torch.Tensor) -> torch.Tensor:
    return z


#: The activation functions by name.
F: dict[str, Activation] = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "identity": _identity,
}

#: Their derivatives, as functions of the pre-activation ``z``.
DF: dict[str, Activation] = {
    "relu": lambda z: (z > 0).to(z.dtype),
    "sigmoid": lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z)),
    "tanh": lambda z: 1 - torch.tanh(z) ** 2,
    "identity": torch.ones_like,
}


class MyNet(nn.Module):
    """A fully connected network with ``L = len(n_l) - 1`` layers.

    ``fc[str(l)]`` is the ``nn.Linear(n_l[l-1], n_l[l])`` of layer ``l``; ``activations[l-1]``
    names its activation. ``forward`` keeps ``a[0] = x``, ``z[l]`` and ``a[l]`` for backpropagation.
    """

    def __init__(self, n_l: Sequence[int], activations: Sequence[str]) -> None:
        super().__init__()
        if len(activations) != len(n_l) - 1:
            raise ValueError(f"{len(n_l) - 1} layers need {len(n_l) - 1} activations, got {len(activations)}")
        self.n_l = list(n_l)
        self.L = len(n_l) - 1
        self.fc = nn.ModuleDict({str(l): nn.Linear(n_l[l - 1], n_l[l], dtype=DTYPE) for l in range(1, self.L + 1)})
        self.f = {l: F[name] for l, name in enumerate(activations, start=1)}
        self.df = {l: DF[name] for l, name in enumerate(activations, start=1)}
        self.a: dict[int, torch.Tensor] = {}
        self.z: dict[int, torch.Tensor] = {}
        self.dL_dw: dict[int, torch.Tensor] = {}
        self.dL_db: dict[int, torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.a[0] = x
        for l in range(1, self.L + 1):
            self.z[l] = self.fc[str(l)](self.a[l - 1])
            self.a[l] = self.f[l](self.z[l])
        return self.a[self.L]


def squared_error(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """``L = 1/N sum_i ||y_pred_i - y_true_i||^2`` (sum over outputs, mean over the batch)."""
    return ((y_pred - y_true) ** 2).sum(dim=1).mean()


class SquaredError(nn.Module):
    """:func:`squared_error` as a loss module."""

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        return squared_error(y_pred, y_true)


@torch.no_grad()
def backpropagation(model: MyNet, y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
    """Fill ``model.dL_dw[l]`` and ``model.dL_db[l]`` with the gradients of :func:`squared_error`."""
    n = y_true.shape[0]
    delta = 2.0 / n * (y_pred - y_true) * model.df[model.L](model.z[model.L])
    for l in range(model.L, 0, -1):
        model.dL_dw[l] = delta.T @ model.a[l - 1]
        model.dL_db[l] = delta.sum(dim=0)
        if l > 1:
            delta = (delta @ model.fc[str(l)].weight) * model.df[l - 1](model.z[l - 1])


def net_from_arrays(n_l: Sequence[int], activations: Sequence[str], arrays: Sequence[np.ndarray]) -> MyNet:
    """A ``MyNet`` whose parameters (weight, bias per layer, in layer order) are ``arrays``."""
    model = MyNet(n_l, activations)
    load_arrays(model, arrays)
    return model


def load_arrays(model: nn.Module, arrays: Sequence[np.ndarray]) -> None:
    """Copy ``arrays`` into ``model.parameters()`` in order, checking every shape."""
    params = list(model.parameters())
    if len(params) != len(arrays):
        raise ValueError(f"{len(arrays)} arrays for {len(params)} parameters")
    with torch.no_grad():
        for param, array in zip(params, arrays, strict=True):
            if tuple(param.shape) != np.shape(array):
                raise ValueError(f"an array of shape {np.shape(array)} for a parameter of shape {tuple(param.shape)}")
            param.copy_(torch.as_tensor(np.asarray(array, dtype=np.float64)))


def to_arrays(model: nn.Module) -> list[np.ndarray]:
    """The model's parameters as float64 arrays, in ``model.parameters()`` order."""
    return [p.detach().cpu().numpy().astype(np.float64) for p in model.parameters()]


def initial_arrays(n_l: Sequence[int], activations: Sequence[str], seed: int) -> list[np.ndarray]:
    """The parameters ``MyNet(n_l, activations)`` gets after ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return to_arrays(MyNet(n_l, activations))


def autograd_gradients(
    n_l: Sequence[int], activations: Sequence[str], arrays: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray
) -> list[np.ndarray]:
    """The gradients of :func:`squared_error` by ``loss.backward()``: dL/dW, dL/db per layer, in order."""
    model = net_from_arrays(n_l, activations, arrays)
    loss = squared_error(model(torch.as_tensor(X)), torch.as_tensor(Y))
    loss.backward()
    return [p.grad.numpy().copy() for p in model.parameters()]


def manual_gradients(
    n_l: Sequence[int], activations: Sequence[str], arrays: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray
) -> list[np.ndarray]:
    """The same gradients by :func:`backpropagation`, in the same order."""
    model = net_from_arrays(n_l, activations, arrays)
    with torch.no_grad():
        y_pred = model(torch.as_tensor(X))
    backpropagation(model, torch.as_tensor(Y), y_pred)
    out: list[np.ndarray] = []
    for l in range(1, model.L + 1):
        out += [model.dL_dw[l].numpy().copy(), model.dL_db[l].numpy().copy()]
    return out
