"""The cyclical learning rate and mini-batch gradient descent with per-epoch bookkeeping."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

import numpy as np

from reference.numpy_clr.network import Weights, compute_accuracy, compute_cost, compute_gradients, evaluate_classifier

#: The per-epoch lists ``mini_batch_gd`` returns, in this order.
HISTORY_KEYS = ("cost_train", "loss_train", "acc_train", "cost_val", "loss_val", "acc_val")


class TrainParams(TypedDict):
    """``params`` of ``mini_batch_gd``: batch size and the schedule's shape."""

    n_batch: int
    eta_min: float
    eta_max: float
    n_s: int
    cycles: int


def cyclical_eta(t: int, eta_min: float, eta_max: float, n_s: int) -> float:
    """The triangular schedule at update ``t`` (counted from 0 over the whole run).

    Rises linearly from ``eta_min`` at ``t = 2 l n_s`` to ``eta_max`` at ``(2l + 1) n_s``, falls back to
    ``eta_min`` at ``2 (l + 1) n_s``, for every cycle ``l``.
    """
    cycle_start = (t // (2 * n_s)) * 2 * n_s
    into = t - cycle_start
    if into <= n_s:
        return eta_min + into / n_s * (eta_max - eta_min)
    return eta_max - (into - n_s) / n_s * (eta_max - eta_min)


def _labels(Y: np.ndarray) -> np.ndarray:
    return np.argmax(Y, axis=0)


GradientFn = Callable[..., Weights]
EtaFn = Callable[[int, float, float, int], float]


def mini_batch_gd(
    X: np.ndarray,
    Y: np.ndarray,
    X_val: np.ndarray,
    Y_val: np.ndarray,
    params: TrainParams,
    W1: np.ndarray,
    b1: np.ndarray,
    W2: np.ndarray,
    b2: np.ndarray,
    lam: float,
    *,
    gradients: GradientFn = compute_gradients,
    eta_of: EtaFn = cyclical_eta,
    eta_per_epoch: bool = False,
    leftover_batch: bool = False,
    whole_epochs: bool = False,
    max_epochs: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, list[float]]]:
    """Train for ``2 n_s cycles`` updates; return the weights and the per-epoch history.

    Epoch ``e`` takes the batches ``X[:, j n_batch:(j + 1) n_batch]`` for ``j = 0 .. n // n_batch - 1``
    in that order (no shuffling; leftover columns are unused). Update ``t`` (from 0) uses
    ``cyclical_eta(t, ...)``. Training stops right after the last update, which may end an epoch
    early; the history gets one entry at the end of every epoch, the last one included.
    ``gradients``, ``eta_of``, ``eta_per_epoch``, ``leftover_batch`` (the leftover columns make an
    extra, smaller last batch), ``whole_epochs`` (the last, partial epoch is dropped) and
    ``max_epochs`` (stop after that many epochs) exist for the mistake catalogue only.
    """
    W1, b1, W2, b2 = (np.array(w, dtype=np.float64) for w in (W1, b1, W2, b2))
    n = X.shape[1]
    n_batch = params["n_batch"]
    per_epoch = n // n_batch
    if per_epoch < 1:
        raise ValueError(f"n_batch {n_batch} is larger than the {n} training images")
    if leftover_batch:
        per_epoch = -(-n // n_batch)
    total = 2 * params["n_s"] * params["cycles"]
    if whole_epochs:
        total -= total % per_epoch
    history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}
    t = 0
    while t < total and (max_epochs is None or len(history["cost_train"]) < max_epochs):
        eta_epoch = eta_of(t, params["eta_min"], params["eta_max"], params["n_s"])
        for j in range(per_epoch):
            if t >= total:
                break
            Xb = X[:, j * n_batch : (j + 1) * n_batch]
            Yb = Y[:, j * n_batch : (j + 1) * n_batch]
            H, P = evaluate_classifier(Xb, W1, b1, W2, b2)
            gW1, gb1, gW2, gb2 = gradients(Xb, Yb, H, P, W1, W2, lam)
            eta = eta_epoch if eta_per_epoch else eta_of(t, params["eta_min"], params["eta_max"], params["n_s"])
            W1 = W1 - eta * gW1
            b1 = b1 - eta * gb1
            W2 = W2 - eta * gW2
            b2 = b2 - eta * gb2
            t += 1
        for suffix, (Xs, Ys) in (("train", (X, Y)), ("val", (X_val, Y_val))):
            cost, loss = compute_cost(Xs, Ys, W1, b1, W2, b2, lam)
            history[f"cost_{suffix}"].append(cost)
            history[f"loss_{suffix}"].append(loss)
            history[f"acc_{suffix}"].append(compute_accuracy(Xs, _labels(Ys), W1, b1, W2, b2))
    return W1, b1, W2, b2, history
