import numpy as np

NAN = float("nan")


def evaluate_classifier(X, W1, b1, W2, b2):
    return np.full((W1.shape[0], X.shape[1]), NAN), np.full((W2.shape[0], X.shape[1]), NAN)


def compute_cost(X, Y, W1, b1, W2, b2, lam):
    return NAN, float("inf")


def compute_accuracy(X, y, W1, b1, W2, b2):
    return NAN


def compute_gradients(X, Y, H, P, W1, W2, lam):
    return tuple(np.full(s, NAN) for s in (W1.shape, (W1.shape[0], 1), W2.shape, (W2.shape[0], 1)))


def compute_grads_num_slow(X, Y, W1, b1, W2, b2, lam, h):
    return compute_gradients(X, Y, None, None, W1, W2, lam)


def cyclical_eta(t, eta_min, eta_max, n_s):
    return NAN


def mini_batch_gd(X, Y, X_val, Y_val, params, W1, b1, W2, b2, lam):
    keys = ("cost_train", "loss_train", "acc_train", "cost_val", "loss_val", "acc_val")
    return W1 * NAN, b1 * NAN, W2 * NAN, b2 * NAN, {k: [NAN] * 10 for k in keys}
