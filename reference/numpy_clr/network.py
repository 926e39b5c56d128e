"""The network: forward pass, cost, accuracy, analytic and centred-difference gradients."""

from __future__ import annotations

import numpy as np

#: The order in which gradients and weights are returned everywhere in this assignment.
GRADIENT_NAMES = ("W1", "b1", "W2", "b2")

Weights = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def init_weights(d: int, m: int, k: int, seed: int) -> Weights:
    """The handout's initialisation: ``W1 ~ N(0, 1/d)``, ``W2 ~ N(0, 1/m)``, zero biases.

    Drawn with ``numpy.random.default_rng(seed)``, W1 first; the grader always passes the weights in,
    so students never need to reproduce it.
    """
    rng = np.random.default_rng(seed)
    W1 = rng.normal(0.0, 1.0 / np.sqrt(d), (m, d))
    W2 = rng.normal(0.0, 1.0 / np.sqrt(m), (k, m))
    return W1, np.zeros((m, 1)), W2, np.zeros((k, 1))


def one_hot(y: np.ndarray, k: int) -> np.ndarray:
    """``K x n`` one-hot matrix of the labels ``y``."""
    Y = np.zeros((k, y.size))
    Y[y, np.arange(y.size)] = 1.0
    return Y


def evaluate_classifier(
    X: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(H, P)``: ReLU hidden activations ``m x n`` and softmax probabilities ``K x n``."""
    H = np.maximum(W1 @ X + b1, 0.0)
    S = W2 @ H + b2
    # Shifting each column by its maximum changes nothing mathematically and avoids overflow.
    E = np.exp(S - S.max(axis=0, keepdims=True))
    return H, E / E.sum(axis=0, keepdims=True)


def compute_cost(
    X: np.ndarray, Y: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, lam: float
) -> tuple[float, float]:
    """``(cost, loss)``: mean cross-entropy ``loss`` and ``cost = loss + lam (sum W1^2 + sum W2^2)``."""
    _, P = evaluate_classifier(X, W1, b1, W2, b2)
    loss = float(-np.sum(Y * np.log(P)) / X.shape[1])
    return loss + lam * float(np.sum(W1 * W1) + np.sum(W2 * W2)), loss


def compute_accuracy(
    X: np.ndarray, y: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> float:
    """Fraction of the columns of ``X`` whose most probable class is the label in ``y``."""
    _, P = evaluate_classifier(X, W1, b1, W2, b2)
    return float(np.mean(np.argmax(P, axis=0) == np.asarray(y).ravel()))


def compute_gradients(
    X: np.ndarray, Y: np.ndarray, H: np.ndarray, P: np.ndarray, W1: np.ndarray, W2: np.ndarray, lam: float
) -> Weights:
    """Gradients of the cost for the whole mini-batch at once: ``(grad_W1, grad_b1, grad_W2, grad_b2)``."""
    n = X.shape[1]
    G = -(Y - P)
    grad_W2 = G @ H.T / n + 2 * lam * W2
    grad_b2 = G.sum(axis=1, keepdims=True) / n
    G = (W2.T @ G) * (H > 0)
    grad_W1 = G @ X.T / n + 2 * lam * W1
    grad_b1 = G.sum(axis=1, keepdims=True) / n
    return grad_W1, grad_b1, grad_W2, grad_b2


def compute_grads_num_slow(
    X: np.ndarray,
    Y: np.ndarray,
    W1: np.ndarray,
    b1: np.ndarray,
    W2: np.ndarray,
    b2: np.ndarray,
    lam: float,
    h: float,
) -> Weights:
    """Centred differences ``(c(p + h) - c(p - h)) / 2h`` of the cost, one parameter at a time."""
    params = [np.array(p, dtype=np.float64) for p in (W1, b1, W2, b2)]
    grads = []
    for param in params:
        grad = np.zeros_like(param)
        for ix in np.ndindex(param.shape):
            original = param[ix]
            param[ix] = original + h
            c_plus, _ = compute_cost(X, Y, *params, lam)
            param[ix] = original - h
            c_minus, _ = compute_cost(X, Y, *params, lam)
            param[ix] = original  # restore the saved value: no drift from adding h back
            grad[ix] = (c_plus - c_minus) / (2 * h)
        grads.append(grad)
    return grads[0], grads[1], grads[2], grads[3]
