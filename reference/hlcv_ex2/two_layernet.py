"""Trusted numpy reference for the two-layer network of ``hlcv-ex2``.

The maths lives in pure functions that take the weights explicitly
(``forward_probs``, ``loss_and_grads``, ``predict_labels``, ``train_params``), so
the grader can compute expected values on weights it holds without building a
network object.  ``TwoLayerNet`` is a thin wrapper with the student's API.

Network (see docs/assignments/hlcv-ex2.md)::

    z2 = X W1 + b1;  a2 = relu(z2);  z3 = a2 W2 + b2;  p = softmax(z3)
    J  = mean_i(-log p[i, y_i]) + reg * (sum(W1**2) + sum(W2**2))
"""

from __future__ import annotations

from collections.abc import MutableMapping

import numpy as np

Params = MutableMapping[str, np.ndarray]

PARAM_NAMES: tuple[str, ...] = ("W1", "b1", "W2", "b2")


def init_params(input_size: int, hidden_size: int, output_size: int, std: float = 1e-4) -> dict[str, np.ndarray]:
    """Draw fresh weights from numpy's global random state.

    W1 is drawn before W2 and the biases are zeros: this order is part of the
    assignment, because it makes a seeded student network identical to ours.
    """
    return {
        "W1": std * np.random.randn(input_size, hidden_size),
        "b1": np.zeros(hidden_size),
        "W2": std * np.random.randn(hidden_size, output_size),
        "b2": np.zeros(output_size),
    }


def _forward(params: Params, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (z2, a2, shifted logits); the caches the backward pass needs."""
    z2 = X @ params["W1"] + params["b1"]
    a2 = np.maximum(z2, 0.0)
    z3 = a2 @ params["W2"] + params["b2"]
    # Subtracting the row max leaves softmax unchanged and keeps exp() from overflowing.
    shifted = z3 - z3.max(axis=1, keepdims=True)
    return z2, a2, shifted


def _softmax_from_shifted(shifted: np.ndarray) -> np.ndarray:
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def forward_probs(params: Params, X: np.ndarray) -> np.ndarray:
    """Class probabilities, shape (N, C), for inputs X of shape (N, D)."""
    _, _, shifted = _forward(params, X)
    return _softmax_from_shifted(shifted)


def regularisation(params: Params, reg: float) -> float:
    """The L2 penalty ``reg * (sum(W1**2) + sum(W2**2))`` (no 1/2, biases excluded)."""
    return float(reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2)))


def loss_and_grads(
    params: Params, X: np.ndarray, y: np.ndarray, reg: float = 0.0
) -> tuple[float, dict[str, np.ndarray]]:
    """Mean softmax cross-entropy plus L2 penalty, and its gradient for every parameter.

    ``y`` holds integer labels in ``[0, C)``. Returns ``(loss, grads)`` where
    ``grads`` has the keys and shapes of ``params``.
    """
    y = np.asarray(y)
    n = X.shape[0]
    if y.shape != (n,):
        raise ValueError(f"y has shape {y.shape}, expected ({n},) to match X")
    z2, a2, shifted = _forward(params, X)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    probs = exp / sum_exp
    rows = np.arange(n)
    # -log p = log(sum exp) - shifted: exact even where p underflows to 0.
    data_loss = float(np.mean(np.log(sum_exp[:, 0]) - shifted[rows, y]))
    loss = data_loss + regularisation(params, reg)

    # d(mean CE)/dz3 = (p - onehot(y)) / N
    dz3 = probs.copy()
    dz3[rows, y] -= 1.0
    dz3 /= n
    W1, W2 = params["W1"], params["W2"]
    grads = {
        "W2": a2.T @ dz3 + 2.0 * reg * W2,
        "b2": dz3.sum(axis=0),
    }
    # ReLU passes the gradient only where its input was positive.
    dz2 = (dz3 @ W2.T) * (z2 > 0)
    grads["W1"] = X.T @ dz2 + 2.0 * reg * W1
    grads["b1"] = dz2.sum(axis=0)
    return loss, {k: grads[k] for k in PARAM_NAMES}


def predict_labels(params: Params, X: np.ndarray) -> np.ndarray:
    """Most probable class per row of X, as an (N,) int64 array."""
    # Argmax of the probabilities (not the logits) so that near-ties break the way
    # a student's ``argmax(loss(X))`` does, keeping accuracy histories comparable.
    return np.argmax(forward_probs(params, X), axis=1).astype(np.int64)


def accuracy(params: Params, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows of X whose predicted label equals y."""
    return float(np.mean(predict_labels(params, X) == np.asarray(y)))


def sgd_momentum_step(params: Params, grads: Params, velocity: Params, learning_rate: float, momentum: float) -> None:
    """One SGD-with-momentum update, in place: ``v = m*v - lr*g; p = p + v`` for every key.

    New arrays are assigned into the dicts (not ``+=``) so that arrays the
    caller still holds from before the step are left untouched.
    """
    for key in params:
        velocity[key] = momentum * velocity[key] - learning_rate * grads[key]
        params[key] = params[key] + velocity[key]


def train_params(
    params: Params,
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    learning_rate: float = 1e-3,
    learning_rate_decay: float = 0.95,
    reg: float = 5e-6,
    num_iters: int = 100,
    batch_size: int = 200,
    momentum: float = 0.0,
    verbose: bool = False,
) -> dict[str, list[float]]:
    """Minibatch SGD with momentum on ``params`` (updated in place).

    The loop is the template's skeleton, step for step, so that under the same
    numpy seed a correct submission reproduces this loss history exactly:
    one ``np.random.choice`` per iteration, accuracies and learning-rate decay
    whenever ``it % iterations_per_epoch == 0`` (including iteration 0).
    """
    num_train = X.shape[0]
    iterations_per_epoch = max(num_train // batch_size, 1)
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    loss_history: list[float] = []
    train_acc_history: list[float] = []
    val_acc_history: list[float] = []

    for it in range(num_iters):
        idx = np.random.choice(num_train, batch_size, replace=True)
        X_batch, y_batch = X[idx], y[idx]
        loss, grads = loss_and_grads(params, X_batch, y_batch, reg)
        loss_history.append(loss)
        sgd_momentum_step(params, grads, velocity, learning_rate, momentum)
        if verbose and it % 100 == 0:
            print(f"iteration {it} / {num_iters}: loss {loss:f}")
        if it % iterations_per_epoch == 0:
            train_acc_history.append(accuracy(params, X_batch, y_batch))
            val_acc_history.append(accuracy(params, X_val, y_val))
            learning_rate *= learning_rate_decay

    return {
        "loss_history": loss_history,
        "train_acc_history": train_acc_history,
        "val_acc_history": val_acc_history,
    }


class TwoLayerNet:
    """The student's API as a thin wrapper around the pure functions above."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, std: float = 1e-4) -> None:
        self.params: dict[str, np.ndarray] = init_params(input_size, hidden_size, output_size, std)

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None, reg: float = 0.0
    ) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
        """Probabilities (N, C) without ``y``; ``(loss, grads)`` with it."""
        if y is None:
            return forward_probs(self.params, X)
        return loss_and_grads(self.params, X, y, reg)

    def train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray,
        y_val: np.ndarray,
        learning_rate: float = 1e-3,
        learning_rate_decay: float = 0.95,
        reg: float = 5e-6,
        num_iters: int = 100,
        batch_size: int = 200,
        momentum: float = 0.0,
        verbose: bool = False,
    ) -> dict[str, list[float]]:
        """Train in place with minibatch SGD + momentum; see ``train_params``."""
        return train_params(
            self.params,
            X,
            y,
            X_val,
            y_val,
            learning_rate=learning_rate,
            learning_rate_decay=learning_rate_decay,
            reg=reg,
            num_iters=num_iters,
            batch_size=batch_size,
            momentum=momentum,
            verbose=verbose,
        )

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted labels, shape (N,), dtype int64."""
        return predict_labels(self.params, X)
