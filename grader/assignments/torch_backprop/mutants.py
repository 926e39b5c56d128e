"""The mistake catalogue of torch-backprop: named wrong variants of the reference.

When a submission's output misses the reference, the checks run these variants on the same inputs in
the trusted process; when the output matches one, the feedback names that mistake. The gradient
variants are written in numpy (an independent computation of the same formulas); the training
variants are the reference's SGD loop with one edit each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Arrays = list[np.ndarray]

_F: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "identity": lambda z: z,
}
_DF: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: (z > 0).astype(z.dtype),
    "sigmoid": lambda z: _F["sigmoid"](z) * (1 - _F["sigmoid"](z)),
    "tanh": lambda z: 1 - np.tanh(z) ** 2,
    "identity": np.ones_like,
}


def gradients(
    activations: Sequence[str],
    arrays: Sequence[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    *,
    factor: float = 2.0,
    average: bool = True,
    derivative_at_a: bool = False,
    sum_bias: bool = True,
    transpose: bool = False,
    next_activation: bool = False,
    sign: float = 1.0,
) -> Arrays:
    """dL/dW, dL/db of every layer (in parameter order) for ``1/N sum ||y_pred - y||^2``, with switches.

    ``arrays`` holds weight (out, in) and bias (out,) of each layer, in order. The defaults are the
    correct gradients.
    """
    weights, biases = list(arrays[0::2]), list(arrays[1::2])
    depth = len(weights)
    a, z = [X], [X]
    for layer in range(depth):
        z.append(a[-1] @ weights[layer].T + biases[layer])
        a.append(_F[activations[layer]](z[-1]))

    def derivative(layer: int) -> np.ndarray:
        return _DF[activations[layer - 1]](a[layer] if derivative_at_a else z[layer])

    n = X.shape[0] if average else 1
    delta = sign * factor / n * (a[depth] - Y) * derivative(depth)
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for layer in range(depth, 0, -1):
        inputs = a[layer] if next_activation else a[layer - 1]
        d_w = inputs.T @ delta if transpose else delta.T @ inputs
        out[layer] = (d_w, delta.sum(axis=0) if sum_bias else delta.copy())
        if layer > 1:
            delta = (delta @ weights[layer - 1]) * derivative(layer - 1)
    return [g for layer in range(1, depth + 1) for g in out[layer]]


GradientFn = Callable[[Sequence[str], Sequence[np.ndarray], np.ndarray, np.ndarray], Arrays]

#: Mistakes in ``backpropagation``: (name, function with :func:`gradients`' signature).
GRADIENT_MUTANTS: list[tuple[str, GradientFn]] = [
    ("missing factor 2: the derivative of (y_pred - y)^2 is 2 (y_pred - y)", lambda *p: gradients(*p, factor=1.0)),
    ("missing 1/N: the loss is averaged over the batch", lambda *p: gradients(*p, average=False)),
    (
        "missing factor 2 and 1/N",
        lambda *p: gradients(*p, factor=1.0, average=False),
    ),
    (
        "activation derivative taken at a[l] instead of z[l]: model.df[l] expects the pre-activation",
        lambda *p: gradients(*p, derivative_at_a=True),
    ),
    ("bias gradient not summed over the batch", lambda *p: gradients(*p, sum_bias=False)),
    (
        "transposed weight gradient: dL_dw[l] has the shape of the weight, (out, in): delta.T @ a[l-1]",
        lambda *p: gradients(*p, transpose=True),
    ),
    ("layer index off by one: dL_dw[l] takes a[l] instead of a[l-1]", lambda *p: gradients(*p, next_activation=True)),
    ("sign of the error flipped: (y_true - y_pred) instead of (y_pred - y_true)", lambda *p: gradients(*p, sign=-1.0)),
]


def sgd_trajectory(
    model: object,
    loss_fn: Callable,
    loader: object,
    n_epochs: int,
    lr: float,
    momentum: float,
    weight_decay: float,
    *,
    decay_after_momentum: bool = False,
    decay_factor: float = 1.0,
    dampened_zero_start: bool = False,
    zero_grad: bool = True,
    nesterov: bool = False,
    batches_seen: list[list[tuple[float, int]]] | None = None,
) -> list[float]:
    """The reference's hand-written SGD loop with switches; trains ``model`` in place, returns the losses.

    The defaults reproduce ``torch.optim.SGD`` (no dampening, no Nesterov). ``batches_seen``, when
    given, receives one list per epoch of every batch's ``(loss.item(), number of samples)``.
    """
    import torch

    buffers: dict[int, torch.Tensor] = {}
    losses = []
    for _ in range(n_epochs):
        seen: list[tuple[float, int]] = []
        for x, y in loader:
            if zero_grad:
                model.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            with torch.no_grad():
                for i, p in enumerate(model.parameters()):
                    g = p.grad.clone()
                    if weight_decay and not decay_after_momentum:
                        g = g + decay_factor * weight_decay * p
                    if momentum:
                        if dampened_zero_start:
                            buffers[i] = momentum * buffers.get(i, torch.zeros_like(g)) + (1 - momentum) * g
                        else:
                            buffers[i] = momentum * buffers[i] + g if i in buffers else g.clone()
                        g = g + momentum * buffers[i] if nesterov else buffers[i]
                    if weight_decay and decay_after_momentum:
                        g = g + weight_decay * p
                    p -= lr * g
            seen.append((loss.item(), len(x)))
        losses.append(sum(value for value, _ in seen) / len(seen))
        if batches_seen is not None:
            batches_seen.append(seen)
    return losses


#: Mistakes in ``train_manual_update``: (name, keyword switches of :func:`sgd_trajectory`).
TRAINING_MUTANTS: list[tuple[str, dict[str, object]]] = [
    ("weight decay added after the momentum buffer (add it to the gradient first)", {"decay_after_momentum": True}),
    ("weight decay times 2: torch.optim.SGD adds weight_decay * p, not 2 * weight_decay * p", {"decay_factor": 2.0}),
    (
        "momentum buffer started at zero with dampening: torch.optim.SGD starts it at the first gradient",
        {"dampened_zero_start": True},
    ),
    ("gradients never zeroed: they accumulate over the batches", {"zero_grad": False}),
    ("Nesterov momentum: torch.optim.SGD's default steps along the buffer itself", {"nesterov": True}),
]

EpochLoss = Callable[[list[tuple[float, int]]], float]

#: Mistakes in the loss history of ``train_manual_update`` (the parameters right): (name, one epoch's
#: entry from that epoch's ``(loss.item(), batch size)`` pairs). The handout asks for the plain mean.
LOSS_MUTANTS: list[tuple[str, EpochLoss]] = [
    (
        "loss history weighted by batch size: each entry is the plain mean of the epoch's batch losses"
        " (loss.item()), not the mean over the samples",
        lambda seen: sum(loss * size for loss, size in seen) / sum(size for _, size in seen),
    ),
    (
        "loss history holds the last batch's loss: each entry is the mean of all the epoch's batch losses",
        lambda seen: seen[-1][0],
    ),
    (
        "loss history holds the sum of the batch losses: divide it by the number of batches",
        lambda seen: sum(loss for loss, _ in seen),
    ),
]

#: An in-place update of a parameter outside ``torch.no_grad()`` fails with this message.
NO_GRAD_MESSAGE = "leaf Variable that requires grad"
NO_GRAD_MISTAKE = "parameters updated outside torch.no_grad(): autograd records the update"


def matches(student: Sequence[object], expected: Sequence[np.ndarray], limit: float = 1e-6) -> bool:
    """Whether every student array has the mutant's shape and values (relative error < ``limit``)."""
    if len(student) != len(expected):
        return False
    for got, want in zip(student, expected, strict=True):
        if type(got) is not np.ndarray or got.shape != want.shape or got.dtype.kind != "f":
            return False
        if not np.isfinite(got).all():
            return False
        error = np.abs(got - want) / np.maximum(1e-8, np.abs(got) + np.abs(want))
        if error.size and not float(error.max()) < limit:
            return False
    return True


def first_match(student: Sequence[object], candidates: list[tuple[str, Arrays]]) -> str | None:
    """The name of the first candidate whose arrays ``student`` matches."""
    for name, arrays in candidates:
        if matches(student, arrays):
            return name
    return None
