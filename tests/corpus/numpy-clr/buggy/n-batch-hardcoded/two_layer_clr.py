"""Two-layer network in column-major numpy, trained with a cyclical learning rate."""

import numpy as np


def evaluate_classifier(X, W1, b1, W2, b2):
    H = np.maximum(0, W1 @ X + b1)
    S = W2 @ H + b2
    S = S - np.max(S, axis=0, keepdims=True)
    E = np.exp(S)
    P = E / np.sum(E, axis=0, keepdims=True)
    return H, P


def compute_cost(X, Y, W1, b1, W2, b2, lam):
    _, P = evaluate_classifier(X, W1, b1, W2, b2)
    n = X.shape[1]
    loss = -np.sum(Y * np.log(P)) / n
    cost = loss + lam * (np.sum(W1**2) + np.sum(W2**2))
    return float(cost), float(loss)


def compute_accuracy(X, y, W1, b1, W2, b2):
    _, P = evaluate_classifier(X, W1, b1, W2, b2)
    return float(np.mean(np.argmax(P, axis=0) == y))


def compute_gradients(X, Y, H, P, W1, W2, lam):
    n = X.shape[1]
    G = -(Y - P)
    grad_W2 = G @ H.T / n + 2 * lam * W2
    grad_b2 = np.sum(G, axis=1, keepdims=True) / n
    G = W2.T @ G
    G = G * (H > 0)
    grad_W1 = G @ X.T / n + 2 * lam * W1
    grad_b1 = np.sum(G, axis=1, keepdims=True) / n
    return grad_W1, grad_b1, grad_W2, grad_b2


def compute_grads_num_slow(X, Y, W1, b1, W2, b2, lam, h):
    params = [W1.copy(), b1.copy(), W2.copy(), b2.copy()]
    grads = []
    for p in params:
        grad = np.zeros(p.shape)
        for i in range(p.shape[0]):
            for j in range(p.shape[1]):
                old = p[i, j]
                p[i, j] = old - h
                c1, _ = compute_cost(X, Y, *params, lam)
                p[i, j] = old + h
                c2, _ = compute_cost(X, Y, *params, lam)
                p[i, j] = old
                grad[i, j] = (c2 - c1) / (2 * h)
        grads.append(grad)
    return tuple(grads)


def cyclical_eta(t, eta_min, eta_max, n_s):
    l = t // (2 * n_s)
    if 2 * l * n_s <= t <= (2 * l + 1) * n_s:
        return eta_min + (t - 2 * l * n_s) / n_s * (eta_max - eta_min)
    return eta_max - (t - (2 * l + 1) * n_s) / n_s * (eta_max - eta_min)


def mini_batch_gd(X, Y, X_val, Y_val, params, W1, b1, W2, b2, lam):
    n = X.shape[1]
    n_batch = 100
    total = 2 * params["n_s"] * params["cycles"]
    y = np.argmax(Y, axis=0)
    y_val = np.argmax(Y_val, axis=0)
    history = {k: [] for k in ("cost_train", "loss_train", "acc_train", "cost_val", "loss_val", "acc_val")}
    t = 0
    while t < total:
        for j in range(n // n_batch):
            if t >= total:
                break
            Xb = X[:, j * n_batch:(j + 1) * n_batch]
            Yb = Y[:, j * n_batch:(j + 1) * n_batch]
            H, P = evaluate_classifier(Xb, W1, b1, W2, b2)
            gW1, gb1, gW2, gb2 = compute_gradients(Xb, Yb, H, P, W1, W2, lam)
            eta = cyclical_eta(t, params["eta_min"], params["eta_max"], params["n_s"])
            W1 = W1 - eta * gW1
            b1 = b1 - eta * gb1
            W2 = W2 - eta * gW2
            b2 = b2 - eta * gb2
            t += 1
        cost, loss = compute_cost(X, Y, W1, b1, W2, b2, lam)
        history["cost_train"].append(cost)
        history["loss_train"].append(loss)
        history["acc_train"].append(compute_accuracy(X, y, W1, b1, W2, b2))
        cost, loss = compute_cost(X_val, Y_val, W1, b1, W2, b2, lam)
        history["cost_val"].append(cost)
        history["loss_val"].append(loss)
        history["acc_val"].append(compute_accuracy(X_val, y_val, W1, b1, W2, b2))
    return W1, b1, W2, b2, history


if __name__ == "__main__":
    print("run your experiments here")
