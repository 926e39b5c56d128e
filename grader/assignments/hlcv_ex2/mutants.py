"""Known-wrong variants of the reference ("mutants") that name a student's mistake.

When a submission's output misses the reference, the checks run these variants on the same inputs in
the trusted process; if the student's output matches one, the feedback names that mistake. Each
mutant is a small, readable edit of the reference, so a match is strong evidence.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reference.hlcv_ex2.two_layernet import PARAM_NAMES

Params = dict[str, np.ndarray]
LossFn = Callable[[Params, np.ndarray, np.ndarray, float], tuple[float, Params]]


def _loss(
    params: Params,
    X: np.ndarray,
    y: np.ndarray,
    reg: float,
    *,
    average: bool = True,
    average_grads: bool = True,
    reg_loss_factor: float = 1.0,
    reg_grad_factor: float = 2.0,
    relu_mask: bool = True,
    reg_biases: bool = False,
) -> tuple[float, Params]:
    """The reference loss with switches for the classic mistakes."""
    n = X.shape[0]
    z2 = X @ params["W1"] + params["b1"]
    a2 = np.maximum(z2, 0)
    z3 = a2 @ params["W2"] + params["b2"]
    shifted = z3 - z3.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    data = -np.log(probs[rows, y])
    weights = ["W1", "W2", "b1", "b2"] if reg_biases else ["W1", "W2"]
    penalty = sum(np.sum(params[k] ** 2) for k in weights)
    loss = (data.mean() if average else data.sum()) + reg_loss_factor * reg * penalty
    dz3 = probs.copy()
    dz3[rows, y] -= 1
    if average_grads:
        dz3 /= n
    grads = {"W2": a2.T @ dz3, "b2": dz3.sum(axis=0)}
    dz2 = dz3 @ params["W2"].T
    if relu_mask:
        dz2 = dz2 * (z2 > 0)
    grads["W1"] = X.T @ dz2
    grads["b1"] = dz2.sum(axis=0)
    for key in weights:
        grads[key] = grads[key] + reg_grad_factor * reg * params[key]
    return float(loss), {k: grads[k] for k in PARAM_NAMES}


#: Mistakes in the loss or its gradient: (description, function with the reference's signature).
LOSS_MUTANTS: list[tuple[str, LossFn]] = [
    (
        "gradients summed over the batch instead of averaged (missing 1/N in the backward pass)",
        lambda p, X, y, r: _loss(p, X, y, r, average_grads=False),
    ),
    (
        "data loss summed over the batch instead of averaged (missing 1/N)",
        lambda p, X, y, r: _loss(p, X, y, r, average=False, average_grads=False),
    ),
    (
        "regularisation gradient reg*W instead of 2*reg*W",
        lambda p, X, y, r: _loss(p, X, y, r, reg_grad_factor=1.0),
    ),
    (
        "0.5*reg convention: the loss here is reg*(||W1||^2 + ||W2||^2), without the 1/2",
        lambda p, X, y, r: _loss(p, X, y, r, reg_loss_factor=0.5, reg_grad_factor=1.0),
    ),
    (
        "regularisation applied to the biases too (only W1 and W2 are regularised)",
        lambda p, X, y, r: _loss(p, X, y, r, reg_biases=True),
    ),
    (
        "ReLU mask missing in the backward pass (gradient must be zero where z2 <= 0)",
        lambda p, X, y, r: _loss(p, X, y, r, relu_mask=False),
    ),
]


def sgd_mutants(
    params: Params, grads: Params, velocity: Params, lr: float, mu: float
) -> list[tuple[str, Params, Params]]:
    """Wrong momentum updates: (description, params after, velocity after)."""
    out = []
    ascent_v = {k: mu * velocity[k] + lr * grads[k] for k in params}
    out.append(
        (
            "velocity adds the gradient (v = mu*v + lr*g): that is gradient ascent",
            {k: params[k] + ascent_v[k] for k in params},
            ascent_v,
        )
    )
    sign_v = {k: mu * velocity[k] + lr * grads[k] for k in params}
    out.append(
        (
            "momentum sign: v = mu*v + lr*g with p = p - v is a different convention; use v = mu*v - lr*g, p = p + v",
            {k: params[k] - sign_v[k] for k in params},
            sign_v,
        )
    )
    fresh_v = {k: -lr * grads[k] for k in params}
    out.append(
        (
            "momentum ignored: the update does not use the previous velocity",
            {k: params[k] + fresh_v[k] for k in params},
            fresh_v,
        )
    )
    return out


def train_loss_history(
    params: Params,
    X: np.ndarray,
    y: np.ndarray,
    *,
    learning_rate: float,
    learning_rate_decay: float,
    reg: float,
    num_iters: int,
    batch_size: int,
    momentum: float,
    mistake: str,
) -> list[float]:
    """The reference training loop with one scheduling or sampling mistake switched on."""
    params = {k: v.copy() for k, v in params.items()}
    num_train = X.shape[0]
    per_epoch = max(num_train // batch_size, 1)
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    history = []
    for it in range(num_iters):
        if mistake == "without-replacement":
            idx = np.random.choice(num_train, batch_size, replace=False)
        else:
            idx = np.random.choice(num_train, batch_size, replace=True)
        loss, grads = _loss(params, X[idx], y[idx], reg)
        history.append(loss)
        mu = 0.0 if mistake == "momentum-ignored" else momentum
        for k in params:
            velocity[k] = mu * velocity[k] - learning_rate * grads[k]
            params[k] = params[k] + velocity[k]
        if mistake == "decay-every-iteration":
            decay = True
        elif mistake == "no-decay":
            decay = False
        elif mistake == "decay-off-by-one":
            decay = (it + 1) % per_epoch == 0
        else:
            decay = it % per_epoch == 0
        if decay:
            learning_rate *= learning_rate_decay
    return history


#: Training mistakes the loss-history check can recognise: mistake key -> description.
TRAIN_MISTAKES = {
    "decay-every-iteration": "learning rate decayed every iteration instead of once per epoch",
    "no-decay": "learning rate never decayed (multiply it by learning_rate_decay once per epoch)",
    "decay-off-by-one": "learning rate decayed at the end of each epoch instead of when it % iterations_per_epoch == 0",
    "momentum-ignored": "the momentum argument is not used in training",
    "without-replacement": "minibatches sampled without replacement (the template uses replace=True)",
}
