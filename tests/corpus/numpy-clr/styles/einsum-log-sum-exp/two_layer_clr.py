"""A correct solution in another style: np.einsum everywhere, log-sum-exp softmax and loss, CLR-paper triangle formula."""

import numpy as np


def _logsumexp_cols(S):
    c = S.max(axis=0)
    return c + np.log(np.einsum("kn->n", np.exp(S - c)))


def _scores(X, W1, b1, W2, b2):
    H = np.einsum("md,dn->mn", W1, X) + b1
    H = np.where(H > 0, H, 0.0)
    S = np.einsum("km,mn->kn", W2, H) + b2
    return H, S


def evaluate_classifier(X, W1, b1, W2, b2):
    H, S = _scores(X, W1, b1, W2, b2)
    P = np.exp(S - _logsumexp_cols(S))
    return H, P


def compute_cost(X, Y, W1, b1, W2, b2, lam):
    _, S = _scores(X, W1, b1, W2, b2)
    n = X.shape[1]
    # -log P[y_i, i] = logsumexp(S[:, i]) - S[y_i, i]; the Y-weighted score picks S[y_i, i]
    nll = _logsumexp_cols(S) * np.einsum("kn->n", Y) - np.einsum("kn,kn->n", Y, S)
    loss = np.einsum("n->", nll) / n
    penalty = np.einsum("ij,ij->", W1, W1) + np.einsum("ij,ij->", W2, W2)
    return float(loss + lam * penalty), float(loss)


def compute_accuracy(X, y, W1, b1, W2, b2):
    _, S = _scores(X, W1, b1, W2, b2)  # argmax of softmax == argmax of scores
    return float(np.count_nonzero(S.argmax(axis=0) == np.ravel(y)) / X.shape[1])


def compute_gradients(X, Y, H, P, W1, W2, lam):
    n = X.shape[1]
    G = -(Y - P)
    grad_W2 = np.einsum("kn,mn->km", G, H) / n + 2 * lam * W2
    grad_b2 = np.einsum("kn->k", G)[:, None] / n
    G = np.einsum("km,kn->mn", W2, G)
    G[H <= 0] = 0.0
    grad_W1 = np.einsum("mn,dn->md", G, X) / n + 2 * lam * W1
    grad_b1 = np.einsum("mn->m", G)[:, None] / n
    return grad_W1, grad_b1, grad_W2, grad_b2


def compute_grads_num_slow(X, Y, W1, b1, W2, b2, lam, h):
    params = [np.array(p, dtype=float, copy=True) for p in (W1, b1, W2, b2)]
    out = []
    for k, p in enumerate(params):
        g = np.empty_like(p)
        it = np.nditer(p, flags=["multi_index"])
        for _ in it:
            idx = it.multi_index
            saved = p[idx]
            p[idx] = saved + h
            up = compute_cost(X, Y, *params, lam)[0]
            p[idx] = saved - h
            down = compute_cost(X, Y, *params, lam)[0]
            p[idx] = saved
            g[idx] = (up - down) / (2 * h)
        out.append(g)
    return tuple(out)


def cyclical_eta(t, eta_min, eta_max, n_s):
    # Smith's triangular policy: cycle = floor(1 + t / (2 n_s)), x = |t / n_s - 2 cycle + 1|
    cycle = np.floor(1 + t / (2 * n_s))
    x = abs(t / n_s - 2 * cycle + 1)
    return float(eta_min + (eta_max - eta_min) * max(0.0, 1 - x))


def mini_batch_gd(X, Y, X_val, Y_val, params, W1, b1, W2, b2, lam):
    n_batch, n_s = params["n_batch"], params["n_s"]
    eta_min, eta_max = params["eta_min"], params["eta_max"]
    per_epoch = X.shape[1] // n_batch
    total = 2 * n_s * params["cycles"]
    epochs = -(-total // per_epoch)  # ceil
    y, y_val = Y.argmax(axis=0), Y_val.argmax(axis=0)
    keys = ("cost_train", "loss_train", "acc_train", "cost_val", "loss_val", "acc_val")
    history = {k: [] for k in keys}
    t = 0
    for _epoch in range(epochs):
        for j in range(per_epoch):
            if t == total:
                break
            cols = slice(j * n_batch, (j + 1) * n_batch)
            Xb, Yb = X[:, cols], Y[:, cols]
            H, P = evaluate_classifier(Xb, W1, b1, W2, b2)
            g = compute_gradients(Xb, Yb, H, P, W1, W2, lam)
            eta = cyclical_eta(t, eta_min, eta_max, n_s)
            W1, b1, W2, b2 = (w - eta * gw for w, gw in zip((W1, b1, W2, b2), g))
            t += 1
        ct, lt = compute_cost(X, Y, W1, b1, W2, b2, lam)
        cv, lv = compute_cost(X_val, Y_val, W1, b1, W2, b2, lam)
        row = (ct, lt, compute_accuracy(X, y, W1, b1, W2, b2), cv, lv, compute_accuracy(X_val, y_val, W1, b1, W2, b2))
        for k, v in zip(keys, row):
            history[k].append(v)
    return W1, b1, W2, b2, history


if __name__ == "__main__":
    pass
