"""The mistake catalogue: named wrong variants of the reference, computed on the checks' own inputs.

A check that fails compares what the submission returned with each variant of its catalogue and
names the first that matches. Every variant here is also a buggy submission in the test corpus
(``tests/corpus/modular-mlp/buggy/``), which must lose points on the check that covers it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reference.modular_mlp.mlp_numpy import MLP
from reference.modular_mlp.modules import CrossEntropyModule, LinearModule

SOFTMAX_DIAGONAL = "softmax backward without the Jacobian's off-diagonal terms"
CE_NOT_AVERAGED = "cross-entropy summed over the batch instead of averaged"
BIAS_NOT_SUMMED = "bias gradient not summed over the batch"
WEIGHT_TRANSPOSED = "weight gradient transposed"
ELU_AT_OUTPUT = "ELU derivative taken at the output instead of the input"
DX_UPDATED_WEIGHTS = "dx computed with the already updated weights"
BN_NO_MEAN_TERM = "batch-norm backward without the term through the mean"
BN_NO_VAR_TERM = "batch-norm backward without the term through the variance"
BN_UNBIASED = "batch norm with the unbiased variance (divided by N-1)"
BN_EPS_OUTSIDE = "batch norm with eps outside the square root"


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


#: ``f(x, dout) -> dx`` for SoftMaxModule.backward after forward(x).
SOFTMAX_BACKWARD: list[tuple[str, Callable[..., np.ndarray]]] = [
    (SOFTMAX_DIAGONAL, lambda x, dout: dout * _softmax(x) * (1 - _softmax(x))),
]

#: ``f(x, y) -> loss`` for CrossEntropyModule.forward.
CE_FORWARD: list[tuple[str, Callable[..., float]]] = [
    (CE_NOT_AVERAGED, lambda x, y: float(-np.log(x[np.arange(len(y)), y]).sum())),
]

#: ``f(x, y) -> dx`` for CrossEntropyModule.backward.
CE_BACKWARD: list[tuple[str, Callable[..., np.ndarray]]] = [
    (CE_NOT_AVERAGED, lambda x, y: CrossEntropyModule().backward(x, y) * len(y)),
]

#: ``f(x, dout) -> {"weight": ..., "bias": ...}``: LinearModule's parameter gradients.
LINEAR_GRADS: list[tuple[str, Callable[..., dict[str, np.ndarray]]]] = [
    (WEIGHT_TRANSPOSED, lambda x, dout: {"weight": x.T @ dout}),
    (BIAS_NOT_SUMMED, lambda x, dout: {"bias": dout}),
    (BIAS_NOT_SUMMED, lambda x, dout: {"bias": dout.mean(axis=0, keepdims=True)}),
    (BIAS_NOT_SUMMED, lambda x, dout: {"bias": dout.mean(axis=0)}),
]

#: ``f(x, dout, alpha) -> dx`` for ELUModule.backward after forward(x).
ELU_BACKWARD: list[tuple[str, Callable[..., np.ndarray]]] = [
    (
        ELU_AT_OUTPUT,
        lambda x, dout, alpha: dout * np.where(x > 0, 1.0, alpha * np.exp(np.where(x > 0, x, alpha * np.expm1(x)))),
    ),
]


def _step_with_updated_dx(params: list[dict[str, np.ndarray]], x: np.ndarray, y: np.ndarray, lr: float) -> list:
    """One SGD step where each Linear is updated as soon as its gradients are known and ``dx`` is then
    propagated through the new weights."""
    model = _model(params)
    probs = model.forward(x)
    dout = CrossEntropyModule().backward(probs, y)
    for layer in reversed(model.layers):
        if isinstance(layer, LinearModule):
            layer.backward(dout)
            for key in ("weight", "bias"):
                layer.params[key] = layer.params[key] - lr * layer.grads[key]
            dout = dout @ layer.params["weight"]
        else:
            dout = layer.backward(dout)
    return [dict(layer.params) for layer in model.linear_layers()]


def _model(params: list[dict[str, np.ndarray]]) -> MLP:
    sizes = [p["weight"].shape for p in params]
    model = MLP(sizes[0][1], [s[0] for s in sizes[:-1]], sizes[-1][0])
    for layer, p in zip(model.linear_layers(), params, strict=True):
        layer.params = {k: v.copy() for k, v in p.items()}
    return model


#: ``f(params, x, y, lr) -> params after the step`` for ``train_step``.
TRAIN_STEP: list[tuple[str, Callable[..., list[dict[str, np.ndarray]]]]] = [
    (DX_UPDATED_WEIGHTS, _step_with_updated_dx),
]


def _bn_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, ddof: int, eps_inside: bool):
    mean = x.mean(axis=0)
    var = x.var(axis=0, ddof=ddof)
    std = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
    return gamma * (x - mean) / std + beta


#: ``f(x, gamma, beta, eps) -> y`` for the batch-norm forward pass.
BN_FORWARD: list[tuple[str, Callable[..., np.ndarray]]] = [
    (BN_UNBIASED, lambda x, g, b, eps: _bn_forward(x, g, b, eps, 1, True)),
    (BN_EPS_OUTSIDE, lambda x, g, b, eps: _bn_forward(x, g, b, eps, 0, False)),
]


def _bn_dx(x: np.ndarray, gamma: np.ndarray, eps: float, dout: np.ndarray, mean_term: bool, var_term: bool):
    n = x.shape[0]
    inv_std = 1.0 / np.sqrt(x.var(axis=0) + eps)
    xhat = (x - x.mean(axis=0)) * inv_std
    g = dout * gamma
    total = n * g
    if mean_term:
        total = total - g.sum(axis=0)
    if var_term:
        total = total - xhat * (g * xhat).sum(axis=0)
    return inv_std / n * total


#: ``f(x, gamma, eps, dout) -> dL/dx`` for the hand-written batch-norm backward.
BN_BACKWARD: list[tuple[str, Callable[..., np.ndarray]]] = [
    (BN_NO_MEAN_TERM, lambda x, g, eps, dout: _bn_dx(x, g, eps, dout, False, True)),
    (BN_NO_VAR_TERM, lambda x, g, eps, dout: _bn_dx(x, g, eps, dout, True, False)),
]
