"""The mistake catalogue: named wrong variants of the reference.

When a submission's output misses the reference, a check runs these variants on the same inputs in
the trusted process; if the output matches one, the feedback names that mistake. Each variant is a
small edit of the reference, written the way the mistake is usually made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from reference.numpy_clr import compute_cost, cyclical_eta, evaluate_classifier, mini_batch_gd
from reference.numpy_clr.problems import CONFIG_1, CONFIG_1_LAM

Arrays = tuple[np.ndarray, ...]

SOFTMAX_AXIS = "softmax normalised over the wrong axis (row-major habit: in d x n data each column is an image)"
REG_IN_LOSS = "regularisation added to the loss; only the cost has the lam term"
LOSS_SUMMED = "loss summed over the batch instead of averaged (1/n missing)"
G_SIGN = "G with the wrong sign (G = Y - P; the handout's G is -(Y - P))"
MISSING_1_N = "gradients summed over the batch: 1/n missing"
MISSING_2_LAM = "regularisation gradient lam*W instead of 2*lam*W"
BIAS_NOT_SUMMED = "bias gradient not summed over the batch (it must be m x 1 / K x 1, one value per unit)"
BIAS_WRONG_AXIS = "bias gradient summed over the wrong axis (row-major/column-major mix-up: sum over axis 1)"
RELU_MASK = "ReLU mask missing in the backward pass (G must be zero where H == 0)"
ONE_SIDED = "one-sided differences (c(p+h) - c(p)) / h instead of centred ones"
NUM_NO_REG = "numerical gradient of the loss instead of the cost (lam term missing)"
ETA_OFF_BY_ONE = "schedule off by one update (update t must use cyclical_eta(t), counting from t = 0)"
ETA_SWAPPED = "schedule phases swapped (each cycle first rises from eta_min to eta_max, then falls)"
ETA_FENCEPOST = "cycle index off from the third cycle on (a cycle is 2*n_s updates: l = t // (2*n_s))"
ETA_PER_EPOCH = "learning rate updated once per epoch instead of at every update"
ETA_MISUSED = (
    "mini_batch_gd uses the schedule wrongly although cyclical_eta is right "
    "(check the arguments it passes: t, eta_min, eta_max, n_s)"
)
LEFTOVER_BATCH = (
    "leftover columns trained on as an extra, smaller batch "
    "(an epoch takes the n // n_batch full batches only; the rest are not used)"
)
PARTIAL_EPOCH_DROPPED = (
    "last, partial epoch dropped (make exactly 2*n_s*cycles updates and record the history after the last one)"
)
ETA_BOUNDS_IGNORED = (
    "mini_batch_gd ignores params['eta_min'] and params['eta_max'] (configuration 1's 1e-5 and 1e-1 "
    "written in): pass the params' values to cyclical_eta"
)
CYCLES_IGNORED = "mini_batch_gd ignores params['cycles']: the run makes exactly 2 * n_s * cycles updates"
N_BATCH_IGNORED = "mini_batch_gd ignores params['n_batch'] (configuration 1's batch of 100 written in)"
LAM_IGNORED = "mini_batch_gd ignores its lam argument (configuration 1's 0.01 written in)"


# -- forward pass and cost ---------------------------------------------------------------------


def _forward_wrong_axis(X: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray) -> Arrays:
    H = np.maximum(W1 @ X + b1, 0.0)
    S = W2 @ H + b2
    E = np.exp(S - S.max(axis=1, keepdims=True))
    return H, E / E.sum(axis=1, keepdims=True)


#: Forward-pass mistakes: (name, function with evaluate_classifier's signature).
FORWARD_MUTANTS: list[tuple[str, Callable[..., Arrays]]] = [(SOFTMAX_AXIS, _forward_wrong_axis)]


def _cost(X: np.ndarray, Y: np.ndarray, weights: Arrays, lam: float, *, forward=evaluate_classifier, mean=True):
    W1, b1, W2, b2 = weights
    _, P = forward(X, W1, b1, W2, b2)
    data = -np.sum(Y * np.log(P))
    loss = float(data / X.shape[1] if mean else data)
    return loss + lam * float(np.sum(W1**2) + np.sum(W2**2)), loss


def _reg_in_loss(X, Y, weights, lam):
    cost, _ = compute_cost(X, Y, *weights, lam)
    return cost, cost


#: Cost mistakes: (name, f(X, Y, weights, lam) -> (cost, loss)).
COST_MUTANTS: list[tuple[str, Callable[..., tuple[float, float]]]] = [
    (REG_IN_LOSS, _reg_in_loss),
    (LOSS_SUMMED, lambda X, Y, w, lam: _cost(X, Y, w, lam, mean=False)),
    (SOFTMAX_AXIS, lambda X, Y, w, lam: _cost(X, Y, w, lam, forward=_forward_wrong_axis)),
]


# -- analytic gradients ------------------------------------------------------------------------


def _gradients(X, Y, H, P, W1, W2, lam, *, sign=-1.0, mean=True, reg=2.0, bias="sum", relu=True) -> Arrays:
    """compute_gradients with switches for the classic mistakes."""
    n = X.shape[1]
    scale = 1.0 / n if mean else 1.0

    def bias_of(G: np.ndarray) -> np.ndarray:
        if bias == "none":
            return G * scale
        if bias == "axis0":
            return G.sum(axis=0, keepdims=True) * scale
        return G.sum(axis=1, keepdims=True) * scale

    G = sign * (Y - P)
    gW2 = G @ H.T * scale + reg * lam * W2
    gb2 = bias_of(G)
    G = W2.T @ G
    if relu:
        G = G * (H > 0)
    gW1 = G @ X.T * scale + reg * lam * W1
    return gW1, bias_of(G), gW2, gb2


#: Gradient mistakes: (name, function with compute_gradients's signature).
GRADIENT_MUTANTS: list[tuple[str, Callable[..., Arrays]]] = [
    (G_SIGN, lambda *a: _gradients(*a, sign=1.0)),
    (MISSING_1_N, lambda *a: _gradients(*a, mean=False)),
    (MISSING_2_LAM, lambda *a: _gradients(*a, reg=1.0)),
    (BIAS_NOT_SUMMED, lambda *a: _gradients(*a, bias="none")),
    (BIAS_WRONG_AXIS, lambda *a: _gradients(*a, bias="axis0")),
    (RELU_MASK, lambda *a: _gradients(*a, relu=False)),
]


# -- numerical gradients -----------------------------------------------------------------------


def _numerical(X, Y, W1, b1, W2, b2, lam, h, *, one_sided=False, with_reg=True) -> Arrays:
    params = [np.array(p, dtype=np.float64) for p in (W1, b1, W2, b2)]

    def cost() -> float:
        c, loss = compute_cost(X, Y, *params, lam)
        return c if with_reg else loss

    base = cost()
    grads = []
    for param in params:
        grad = np.zeros_like(param)
        for ix in np.ndindex(param.shape):
            original = param[ix]
            param[ix] = original + h
            c_plus = cost()
            if one_sided:
                c_minus, step = base, h
            else:
                param[ix] = original - h
                c_minus, step = cost(), 2 * h
            param[ix] = original
            grad[ix] = (c_plus - c_minus) / step
        grads.append(grad)
    return tuple(grads)


#: Numerical-gradient mistakes: (name, function with compute_grads_num_slow's signature).
NUMERICAL_MUTANTS: list[tuple[str, Callable[..., Arrays]]] = [
    (ONE_SIDED, lambda *a: _numerical(*a, one_sided=True)),
    (NUM_NO_REG, lambda *a: _numerical(*a, with_reg=False)),
]


# -- schedule and training ---------------------------------------------------------------------


def _eta_off_by_one(t: int, eta_min: float, eta_max: float, n_s: int) -> float:
    return cyclical_eta(t + 1, eta_min, eta_max, n_s)


def _eta_swapped(t: int, eta_min: float, eta_max: float, n_s: int) -> float:
    return eta_max + eta_min - cyclical_eta(t, eta_min, eta_max, n_s)


def _eta_fencepost(t: int, eta_min: float, eta_max: float, n_s: int) -> float:
    into = t - (t // (2 * n_s + 1)) * 2 * n_s  # cycle index l = t // (2 n_s + 1)
    if into <= n_s:
        return eta_min + into / n_s * (eta_max - eta_min)
    return eta_max - (into - n_s) / n_s * (eta_max - eta_min)


#: Schedule mistakes: (name, function with cyclical_eta's signature).
ETA_MUTANTS: list[tuple[str, Callable[[int, float, float, int], float]]] = [
    (ETA_OFF_BY_ONE, _eta_off_by_one),
    (ETA_SWAPPED, _eta_swapped),
    (ETA_FENCEPOST, _eta_fencepost),
]
#: Schedule mistakes whose names blame cyclical_eta itself: a trajectory that matches one while the
#: student's cyclical_eta is right gets ETA_MISUSED instead (ETA_OFF_BY_ONE already names the t that
#: mini_batch_gd passes, so it stands either way).
ETA_IN_SCHEDULE = (ETA_SWAPPED, ETA_FENCEPOST)
#: The schedule mistakes that change the trajectory check's runs (the fencepost is first wrong at
#: t = 4 n_s + 1, after their last update).
TRAJECTORY_ETA_MUTANTS = [(name, fn) for name, fn in ETA_MUTANTS if name != ETA_FENCEPOST]


def _training(**switches: Any) -> Callable[..., Any]:
    return lambda *args, **more: mini_batch_gd(*args, **switches, **more)


#: Training mistakes: (name, function with mini_batch_gd's signature). The schedule's and the
#: gradients' mistakes show in the trajectory too, so they are listed here as well (except the bias
#: shape mistakes: a K x n bias cannot be evaluated on the whole set, so such a run fails anyway).
TRAINING_MUTANTS: list[tuple[str, Callable[..., Any]]] = [
    (ETA_PER_EPOCH, _training(eta_per_epoch=True)),
    *((name, _training(eta_of=fn)) for name, fn in TRAJECTORY_ETA_MUTANTS),
    *(
        (name, _training(gradients=fn))
        for name, fn in GRADIENT_MUTANTS
        if name not in (BIAS_NOT_SUMMED, BIAS_WRONG_AXIS)
    ),
]


#: Mistakes that only show when n % n_batch != 0 or the run ends mid-epoch (the trajectory check's
#: uneven run): (name, function with mini_batch_gd's signature).
UNEVEN_MUTANTS: list[tuple[str, Callable[..., Any]]] = [
    (LEFTOVER_BATCH, _training(leftover_batch=True)),
    (PARTIAL_EPOCH_DROPPED, _training(whole_epochs=True)),
]


def _ignoring(*keys: str, lam: bool = False) -> Callable[..., Any]:
    """mini_batch_gd with configuration 1's values in place of the given params (and of lam)."""

    def train(X, Y, X_val, Y_val, params, W1, b1, W2, b2, lam_given, **more):
        fixed = {**params, **{key: CONFIG_1[key] for key in keys}}
        return mini_batch_gd(X, Y, X_val, Y_val, fixed, W1, b1, W2, b2, CONFIG_1_LAM if lam else lam_given, **more)

    return train


#: Mistakes that only show when the settings differ from configuration 1's (the trajectory check's
#: third run): arguments of mini_batch_gd replaced by configuration 1's values.
SETTINGS_MUTANTS: list[tuple[str, Callable[..., Any]]] = [
    (ETA_BOUNDS_IGNORED, _ignoring("eta_min", "eta_max")),
    (CYCLES_IGNORED, _ignoring("cycles")),
    (N_BATCH_IGNORED, _ignoring("n_batch")),
    (LAM_IGNORED, _ignoring(lam=True)),
]
