"""Two-layer network in column-major numpy, trained with a cyclical learning rate.

Conventions (fixed; the grader relies on them): X is d x n (one image per column), Y is the K x n
one-hot label matrix, y the n integer labels, W1 is m x d, b1 m x 1, W2 K x m, b2 K x 1.
Use numpy only. Replace every ``raise NotImplementedError`` with your code; keep the signatures.
Nothing may run when this file is imported (put experiments under ``if __name__ == "__main__":``).
"""

import numpy as np


def evaluate_classifier(X, W1, b1, W2, b2):
    """Return (H, P): H = max(0, W1 X + b1) (m x n) and P = softmax(W2 H + b2) (K x n, columns sum to 1)."""
    # TODO: the forward pass, vectorised over the columns of X.
    raise NotImplementedError("evaluate_classifier")


def compute_cost(X, Y, W1, b1, W2, b2, lam):
    """Return (cost, loss): loss is the mean cross-entropy over the n columns,
    cost = loss + lam * (sum of W1**2 + sum of W2**2). Both are Python floats."""
    # TODO
    raise NotImplementedError("compute_cost")


def compute_accuracy(X, y, W1, b1, W2, b2):
    """Return the fraction (0..1) of columns of X whose most probable class equals y."""
    # TODO
    raise NotImplementedError("compute_accuracy")


def compute_gradients(X, Y, H, P, W1, W2, lam):
    """Return (grad_W1, grad_b1, grad_W2, grad_b2), the gradients of the cost for the whole batch,
    each of its parameter's shape. Start from G = -(Y - P)."""
    # TODO: mini-batch efficient: no loop over the columns.
    raise NotImplementedError("compute_gradients")


def compute_grads_num_slow(X, Y, W1, b1, W2, b2, lam, h):
    """Return (grad_W1, grad_b1, grad_W2, grad_b2) by centred differences of the cost:
    (cost(p + h) - cost(p - h)) / (2 h), one parameter entry at a time. Do not change the inputs."""
    # TODO
    raise NotImplementedError("compute_grads_num_slow")


def cyclical_eta(t, eta_min, eta_max, n_s):
    """Return the triangular learning rate at update t (t = 0, 1, 2, ... over the whole run)."""
    # TODO
    raise NotImplementedError("cyclical_eta")


def mini_batch_gd(X, Y, X_val, Y_val, params, W1, b1, W2, b2, lam):
    """Train with mini-batch gradient descent and the cyclical learning rate.

    params is a dict with n_batch, eta_min, eta_max, n_s, cycles. Returns (W1, b1, W2, b2, history)
    where history is a dict of per-epoch lists: cost_train, loss_train, acc_train, cost_val,
    loss_val, acc_val. See README.md for the exact batch order, update count and bookkeeping.
    """
    # TODO
    raise NotImplementedError("mini_batch_gd")
