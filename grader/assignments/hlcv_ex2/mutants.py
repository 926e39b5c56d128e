"""Known-wrong variants of the reference ("mutants") that name a student's mistake.

When a submission's output misses the reference, the checks run these variants on the same inputs in
the trusted process; if the student's output matches one, the feedback names that mistake. Each
mutant is a small, readable edit of the reference, so a match is strong evidence. Where no mutant
matches, :mod:`.patterns` describes what the error looks like instead.

The catalogue (``catalogue_size()`` counts it): forward and loss mistakes in ``LOSS_MUTANTS``, momentum
conventions in ``sgd_rules`` (compared over several steps, velocity included), training-loop
mistakes in ``TRAIN_MISTAKES``, the MLP's structure in ``MLP_FORWARD_MISTAKES`` and ``train_mlp``'s
in ``TRAIN_MLP_MISTAKES`` (torch variants in :mod:`.torch_mutants`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from reference.hlcv_ex2.two_layernet import PARAM_NAMES

Params = dict[str, np.ndarray]
LossFn = Callable[[Params, np.ndarray, np.ndarray, float], tuple[float, Params]]


def _probs(params: Params, X: np.ndarray, *, hidden: str, scores_relu: bool, bias: str, axis: int, dtype: Any):
    """The forward pass with switches; returns (z2, a2, probs, act_grad) where ``act_grad`` is d a2/d z2."""
    W1, b1, W2, b2 = (params[k].astype(dtype) for k in PARAM_NAMES)
    X = X.astype(dtype)
    z2 = X @ W1 + (0 if bias == "no-b1" else b1)
    if hidden == "relu":
        a2, act = np.maximum(z2, 0), (z2 > 0).astype(dtype)
    elif hidden == "none":
        a2, act = z2, np.ones_like(z2)
    else:  # sigmoid
        a2 = 1 / (1 + np.exp(-z2))
        act = a2 * (1 - a2)
    z3 = a2 @ W2 + (0 if bias == "no-b2" else b2)
    if scores_relu:
        z3 = np.maximum(z3, 0)
    shifted = z3 - z3.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return z2, a2, exp / exp.sum(axis=axis, keepdims=True), act


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
    reg_loss_keys: tuple[str, ...] = ("W1", "W2"),
    reg_grad_keys: tuple[str, ...] = ("W1", "W2"),
    reg_over_n: bool = False,
    l1: bool = False,
    relu_mask: str = "z2",
    onehot: str = "subtract",
    bias_grad: str = "sum",
    log10: bool = False,
    ce_all: bool = False,
    log_epsilon: float = 0.0,
    hidden: str = "relu",
    scores_relu: bool = False,
    bias: str = "both",
    axis: int = 1,
    dtype: Any = np.float64,
) -> tuple[float, Params]:
    """The reference loss with switches for the classic mistakes (the backward pass follows the forward)."""
    n = X.shape[0]
    z2, a2, probs, act = _probs(params, X, hidden=hidden, scores_relu=scores_relu, bias=bias, axis=axis, dtype=dtype)
    rows = np.arange(n)
    log = np.log10 if log10 else np.log
    with np.errstate(divide="ignore"):
        data = -log(probs + log_epsilon) if ce_all else -log(probs[rows, y] + log_epsilon)
    norm = (lambda w: np.sum(np.abs(w))) if l1 else (lambda w: np.sum(w**2))
    scale = reg / n if reg_over_n else reg
    penalty = sum(norm(params[k]) for k in reg_loss_keys)
    loss = (data.mean() if average else data.sum()) + reg_loss_factor * scale * penalty
    dz3 = probs.copy()
    if onehot == "subtract":
        dz3[rows, y] -= 1
    elif onehot == "columns":
        dz3[:, y] -= 1
    elif onehot == "negated":
        dz3 = -dz3
        dz3[rows, y] += 1
    if average_grads:
        dz3 /= n
    W2 = params["W2"].astype(dtype)
    grads = {"W2": a2.T @ dz3, "b2": dz3.sum(axis=0)}
    dz2 = dz3 @ W2.T
    if relu_mask == "z2":
        dz2 = dz2 * act
    elif relu_mask == "dz2":
        dz2 = dz2 * (dz2 > 0)
    grads["W1"] = X.astype(dtype).T @ dz2
    grads["b1"] = dz2.sum(axis=0)
    if bias_grad == "zero":
        grads["b1"], grads["b2"] = np.zeros_like(grads["b1"]), np.zeros_like(grads["b2"])
    elif bias_grad == "mean":
        grads["b1"], grads["b2"] = grads["b1"] / n, grads["b2"] / n
    for key in reg_grad_keys:
        grads[key] = grads[key] + reg_grad_factor * scale * (np.sign(params[key]) if l1 else params[key])
    return float(loss), {k: np.asarray(grads[k], dtype=np.float64) for k in PARAM_NAMES}


def _mutant(**switches: Any) -> LossFn:
    return lambda p, X, y, r: _loss(p, X, y, r, **switches)


FLOAT32_MISTAKE = "computed in float32 (np.float32 arrays lose precision; keep float64)"

#: The small constants students add inside the log "to avoid log(0)". Each shifts the loss by about
#: epsilon / p: for 1e-8 that is ~1e-8, an error of the size float32 rounding leaves, so without these
#: entries (tried before the float32 one) the mistake would be named float32.
LOG_EPSILONS = (1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10)


def log_epsilon_mistake(epsilon: float) -> str:
    return (
        f"epsilon added inside the log (-log(p + {epsilon:g})): the handout's loss is mean(-log p[i, y_i]), "
        "with no epsilon"
    )


#: Mistakes in the forward pass, the loss or its gradient: (description, function with the reference's
#: signature). Order matters only where two variants give the same output on an input.
LOSS_MUTANTS: list[tuple[str, LossFn]] = [
    (
        "gradients summed over the batch instead of averaged (missing 1/N in the backward pass)",
        _mutant(average_grads=False),
    ),
    ("data loss summed over the batch instead of averaged (missing 1/N)", _mutant(average=False, average_grads=False)),
    ("regularisation gradient reg*W instead of 2*reg*W", _mutant(reg_grad_factor=1.0)),
    (
        "0.5*reg convention: the loss here is reg*(||W1||^2 + ||W2||^2), without the 1/2",
        _mutant(reg_loss_factor=0.5, reg_grad_factor=1.0),
    ),
    (
        "regularisation applied to the biases too (only W1 and W2 are regularised)",
        _mutant(reg_loss_keys=PARAM_NAMES, reg_grad_keys=PARAM_NAMES),
    ),
    ("ReLU mask missing in the backward pass (gradient must be zero where z2 <= 0)", _mutant(relu_mask="none")),
    (
        "ReLU mask taken from the upstream gradient (dz2 > 0) instead of the forward input (z2 > 0)",
        _mutant(relu_mask="dz2"),
    ),
    ("softmax gradient without subtracting the one-hot labels (dscores = probs - onehot(y))", _mutant(onehot="none")),
    (
        "one-hot subtracted from whole columns (dscores[:, y] -= 1), not one entry per row (dscores[range(N), y])",
        _mutant(onehot="columns"),
    ),
    (
        "softmax gradient with the wrong sign (onehot(y) - probs instead of probs - onehot(y))",
        _mutant(onehot="negated"),
    ),
    ("bias gradients missing (db must be the sum of the upstream gradient over the batch)", _mutant(bias_grad="zero")),
    (
        "bias gradients averaged a second time (mean over the batch of a gradient already divided by N)",
        _mutant(bias_grad="mean"),
    ),
    (
        "regularisation gradient missing (the loss has the penalty, the gradient lacks 2*reg*W)",
        _mutant(reg_grad_keys=()),
    ),
    (
        "regulariser missing from the loss (the gradient has 2*reg*W, the loss lacks reg*sum(W**2))",
        _mutant(reg_loss_keys=()),
    ),
    (
        "regulariser applies to W1 only (W2 must be regularised too)",
        _mutant(reg_loss_keys=("W1",), reg_grad_keys=("W1",)),
    ),
    (
        "regulariser applies to W2 only (W1 must be regularised too)",
        _mutant(reg_loss_keys=("W2",), reg_grad_keys=("W2",)),
    ),
    ("regulariser divided by N (the penalty is reg*sum(W**2), not averaged over the batch)", _mutant(reg_over_n=True)),
    ("L1 regulariser (reg*sum|W|) instead of L2 (reg*sum(W**2))", _mutant(l1=True, reg_grad_factor=1.0)),
    ("log10 in the cross-entropy instead of the natural log", _mutant(log10=True)),
    ("cross-entropy averaged over all N*C entries of -log(probs) instead of the true class only", _mutant(ce_all=True)),
    ("hidden layer without ReLU (the network is linear)", _mutant(hidden="none")),
    ("sigmoid instead of ReLU in the hidden layer", _mutant(hidden="sigmoid")),
    (
        "ReLU applied to the class scores too (the second layer has no activation before softmax)",
        _mutant(scores_relu=True),
    ),
    ("b1 left out of the forward pass (z2 = X W1 + b1)", _mutant(bias="no-b1")),
    ("b2 left out of the forward pass (z3 = a2 W2 + b2)", _mutant(bias="no-b2")),
    ("softmax normalised over axis 0 (columns) instead of each row (axis=1)", _mutant(axis=0)),
    *((log_epsilon_mistake(eps), _mutant(log_epsilon=eps)) for eps in LOG_EPSILONS),
    (FLOAT32_MISTAKE, _mutant(dtype=np.float32)),
]


def sgd_rules() -> list[tuple[str, Callable[[np.ndarray, np.ndarray, np.ndarray, float, float], tuple]]]:
    """Wrong momentum updates as ``rule(p, g, v, lr, mu) -> (p, v)``, to be replayed over several steps.

    Over one step from a zero velocity several of these coincide; the check replays every step of the
    student's trajectory from a non-zero velocity and compares the velocity too.
    """
    return [
        (
            "velocity adds the gradient (v = mu*v + lr*g, p = p + v): that is gradient ascent",
            lambda p, g, v, lr, mu: (p + (mu * v + lr * g), mu * v + lr * g),
        ),
        (
            "momentum sign convention: v = mu*v + lr*g with p = p - v; the handout fixes v = mu*v - lr*g, p = p + v "
            "(the parameters agree, the velocity has the opposite sign)",
            lambda p, g, v, lr, mu: (p - (mu * v + lr * g), mu * v + lr * g),
        ),
        (
            "momentum ignored: the update does not use the previous velocity",
            lambda p, g, v, lr, mu: (p - lr * g, -lr * g),
        ),
        (
            "learning rate outside the velocity (v = mu*v + g, p = p - lr*v); the handout fixes "
            "v = mu*v - lr*g, p = p + v",
            lambda p, g, v, lr, mu: (p - lr * (mu * v + g), mu * v + g),
        ),
        (
            "Nesterov momentum (p = p + mu*v_new - lr*g); the handout asks for classical momentum, p = p + v",
            lambda p, g, v, lr, mu: (p + mu * (mu * v - lr * g) - lr * g, mu * v - lr * g),
        ),
        (
            "dampened momentum (v = mu*v - (1 - mu)*lr*g); the handout has no (1 - mu)",
            lambda p, g, v, lr, mu: (p + mu * v - (1 - mu) * lr * g, mu * v - (1 - mu) * lr * g),
        ),
        (
            "parameters updated with the old velocity (p = p + v before v is updated)",
            lambda p, g, v, lr, mu: (p + v, mu * v - lr * g),
        ),
        (
            "parameters moved against the velocity (p = p - v with v = mu*v - lr*g)",
            lambda p, g, v, lr, mu: (p - (mu * v - lr * g), mu * v - lr * g),
        ),
        (
            "velocity not stored: the new velocity is computed but velocity[k] is never updated",
            lambda p, g, v, lr, mu: (p + mu * v - lr * g, v),
        ),
        (
            "momentum and learning rate swapped (v = lr*v - mu*g)",
            lambda p, g, v, lr, mu: (p + lr * v - mu * g, lr * v - mu * g),
        ),
    ]


def train_params_variant(
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
) -> Params:
    """The reference training loop with one scheduling or sampling mistake switched on; final weights."""
    params = {k: v.copy() for k, v in params.items()}
    num_train = X.shape[0]
    per_epoch = max(num_train // batch_size, 1)
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    fixed_idx = None
    for it in range(num_iters):
        if mistake == "without-replacement":
            idx = np.random.choice(num_train, batch_size, replace=False)
        elif mistake == "one-batch":
            fixed_idx = np.random.choice(num_train, batch_size, replace=True) if fixed_idx is None else fixed_idx
            idx = fixed_idx
        else:
            idx = np.random.choice(num_train, batch_size, replace=True)
        _, grads = _loss(params, X[idx], y[idx], 0.0 if mistake == "no-reg" else reg)
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
            learning_rate = learning_rate_decay if mistake == "decay-assigned" else learning_rate * learning_rate_decay
    return params


#: Training mistakes the training check can recognise: mistake key -> description.
TRAIN_MISTAKES = {
    "decay-every-iteration": "learning rate decayed every iteration instead of once per epoch",
    "no-decay": "learning rate never decayed (multiply it by learning_rate_decay once per epoch)",
    "decay-off-by-one": "learning rate decayed at the end of each epoch instead of when it % iterations_per_epoch == 0",
    "decay-assigned": "learning rate set to learning_rate_decay instead of multiplied by it",
    # A velocity reset in every iteration and a momentum never passed on give the same weights: one entry.
    "momentum-ignored": (
        "momentum has no effect in training: momentum not passed on, or the velocity reset to zero in every "
        "iteration (create it once, before the loop)"
    ),
    "without-replacement": "minibatches sampled without replacement (the template uses replace=True)",
    "one-batch": "the same minibatch used in every iteration (draw idx inside the loop)",
    "no-reg": "reg not passed to loss() in train (the regulariser is missing from training)",
}

#: Mistakes in MultiLayerPerceptron's structure, matched on its outputs: key -> description.
MLP_FORWARD_MISTAKES = {
    "no-relu": "MLP without ReLU between layers (purely linear)",
    "relu-last": "ReLU after the last Linear too: the logits must be the last layer's raw output",
    "softmax": "forward returns probabilities: return logits, nn.CrossEntropyLoss applies log-softmax",
    "log-softmax": "forward returns log-probabilities (log_softmax): return logits, nn.CrossEntropyLoss applies it",
    "sigmoid": "sigmoid instead of ReLU between layers",
    "tanh": "tanh instead of ReLU between layers",
}

#: Mistakes in train_mlp, matched on the trained weights: key -> description.
TRAIN_MLP_MISTAKES = {
    "no-zero-grad": "gradients never zeroed: call optimizer.zero_grad() in every step (they accumulate)",
    "always-adam": "optimizer='sgd' ignored: torch.optim.SGD must be used when asked",
    "always-sgd": "optimizer='adam' ignored: torch.optim.Adam must be used when asked",
    "no-weight-decay": "weight_decay not passed to the optimizer",
    "lr-ignored": "learning_rate not passed to the optimizer (its default is used)",
    "softmax-then-ce": "softmax applied before nn.CrossEntropyLoss (it applies log-softmax itself)",
    "sum-loss": "loss summed over the batch (reduction='sum') instead of averaged",
    "step-before-backward": "optimizer.step() called before loss.backward(): the step finds no gradient",
    "mse": "mean squared error on one-hot labels instead of nn.CrossEntropyLoss",
    "sgd-momentum": (
        "torch.optim.SGD built with momentum=0.9: the handout's optimizer='sgd' is plain SGD (lr and weight_decay only)"
    ),
    "optimizer-per-epoch": (
        "optimizer created anew in every epoch (Adam's running averages restart): create it once, before the loop"
    ),
}


def catalogue_size() -> int:
    """How many named mistakes the catalogue holds."""
    return (
        len(LOSS_MUTANTS) + len(sgd_rules()) + len(TRAIN_MISTAKES) + len(MLP_FORWARD_MISTAKES) + len(TRAIN_MLP_MISTAKES)
    )


def forward_mutants() -> list[tuple[str, Callable[[Params, np.ndarray], np.ndarray]]]:
    """Mistakes of the forward pass alone, as ``probs(params, X)`` functions."""
    switches = {
        "hidden layer without ReLU (the network is linear)": {"hidden": "none"},
        "sigmoid instead of ReLU in the hidden layer": {"hidden": "sigmoid"},
        "ReLU applied to the class scores too (the second layer has no activation before softmax)": {
            "scores_relu": True
        },
        "b1 left out of the forward pass (z2 = X W1 + b1)": {"bias": "no-b1"},
        "b2 left out of the forward pass (z3 = a2 W2 + b2)": {"bias": "no-b2"},
        "softmax normalised over axis 0 (columns) instead of each row (axis=1)": {"axis": 0},
        "computed in float32 (np.float32 arrays lose precision; keep float64)": {"dtype": np.float32},
    }
    base = {"hidden": "relu", "scores_relu": False, "bias": "both", "axis": 1, "dtype": np.float64}

    def make(sw: dict) -> Callable[[Params, np.ndarray], np.ndarray]:
        return lambda p, X: _probs(p, X, **{**base, **sw})[2].astype(np.float64)

    return [(name, make(sw)) for name, sw in switches.items()]
