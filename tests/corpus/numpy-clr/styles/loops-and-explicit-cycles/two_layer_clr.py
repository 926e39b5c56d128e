"""A correct solution in another style: @ operator, loops where the handout allows them (accuracy, the training driver keyed on
update count), explicit cycle/phase branches, numerical gradient via a perturbation matrix."""

import numpy as np


def relu(A):
    return np.clip(A, 0.0, None)


def softmax(S):
    shifted = S - S.max(axis=0, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=0, keepdims=True))
    return np.exp(shifted - log_z)


def evaluate_classifier(X, W1, b1, W2, b2):
    H = relu(W1 @ X + b1)
    return H, softmax(W2 @ H + b2)


def compute_cost(X, Y, W1, b1, W2, b2, lam):
    _, P = evaluate_classifier(X, W1, b1, W2, b2)
    n = X.shape[1]
    total = 0.0
    for i in range(n):  # one column at a time
        k = int(np.flatnonzero(Y[:, i])[0])
        total -= np.log(P[k, i])
    loss = total / n
    reg = (W1 ** 2).sum() + (W2 ** 2).sum()
    return float(loss + lam * reg), float(loss)


def compute_accuracy(X, y, W1, b1, W2, b2):
    _, P = evaluate_classifier(X, W1, b1, W2, b2)
    hits = 0
    for i in range(P.shape[1]):
        if int(np.argmax(P[:, i])) == int(y[i]):
            hits += 1
    return hits / P.shape[1]


def compute_gradients(X, Y, H, P, W1, W2, lam):
    n = X.shape[1]
    G = (P - Y) / n  # the 1/n folded into G once
    grad_W2 = G @ H.T + lam * 2 * W2
    grad_b2 = G.sum(axis=1).reshape(-1, 1)
    G = (W2.T @ G) * (H > 0).astype(float)
    grad_W1 = G @ X.T + lam * 2 * W1
    grad_b1 = G.sum(axis=1).reshape(-1, 1)
    return grad_W1, grad_b1, grad_W2, grad_b2


def compute_grads_num_slow(X, Y, W1, b1, W2, b2, lam, h):
    base = [W1, b1, W2, b2]

    def cost_with(which, E):
        ps = [p + E if q == which else p for q, p in enumerate(base)]
        return compute_cost(X, Y, *ps, lam)[0]

    grads = []
    for which, p in enumerate(base):
        g = np.zeros(p.shape)
        for r in range(p.shape[0]):
            for c in range(p.shape[1]):
                E = np.zeros(p.shape)
                E[r, c] = h
                g[r, c] = (cost_with(which, E) - cost_with(which, -E)) / (2 * h)
        grads.append(g)
    return tuple(grads)


def cyclical_eta(t, eta_min, eta_max, n_s):
    l = t // (2 * n_s)
    rise_start = 2 * l * n_s
    peak = (2 * l + 1) * n_s
    end = 2 * (l + 1) * n_s
    if t < peak:
        return eta_min + (t - rise_start) * (eta_max - eta_min) / n_s
    return eta_min + (end - t) * (eta_max - eta_min) / n_s


def mini_batch_gd(X, Y, X_val, Y_val, params, W1, b1, W2, b2, lam):
    n_batch = params["n_batch"]
    per_epoch = X.shape[1] // n_batch
    total = 2 * params["n_s"] * params["cycles"]
    W1, b1, W2, b2 = W1.copy(), b1.copy(), W2.copy(), b2.copy()
    y = Y.argmax(axis=0)
    y_val = Y_val.argmax(axis=0)
    history = {key: [] for key in ["cost_train", "loss_train", "acc_train", "cost_val", "loss_val", "acc_val"]}
    for t in range(total):
        j = t % per_epoch
        Xb = X[:, j * n_batch:(j + 1) * n_batch]
        Yb = Y[:, j * n_batch:(j + 1) * n_batch]
        H, P = evaluate_classifier(Xb, W1, b1, W2, b2)
        gW1, gb1, gW2, gb2 = compute_gradients(Xb, Yb, H, P, W1, W2, lam)
        eta = cyclical_eta(t, params["eta_min"], params["eta_max"], params["n_s"])
        W1 = W1 - eta * gW1
        b1 = b1 - eta * gb1
        W2 = W2 - eta * gW2
        b2 = b2 - eta * gb2
        if j == per_epoch - 1 or t == total - 1:
            for tag, (A, B, labels) in {"train": (X, Y, y), "val": (X_val, Y_val, y_val)}.items():
                cost, loss = compute_cost(A, B, W1, b1, W2, b2, lam)
                history["cost_" + tag].append(cost)
                history["loss_" + tag].append(loss)
                history["acc_" + tag].append(compute_accuracy(A, labels, W1, b1, W2, b2))
    return W1, b1, W2, b2, history
