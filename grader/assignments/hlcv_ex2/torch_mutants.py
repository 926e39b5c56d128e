"""Wrong variants of the PyTorch part, run in the trusted process to name a submission's mistake.

``mlp_logits`` computes an MLP's output from its (weight, bias, ...) arrays with a switchable
structure (``MLP_FORWARD_MISTAKES``); ``train_mlp_variant`` is the reference ``train_mlp`` with one of
``TRAIN_MLP_MISTAKES`` switched on; it needs torch only through :func:`reference_optimizers`
(``mlp_logits`` is numpy).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .fixtures import reference_optimizers

#: The momentum of the "sgd-momentum" mistake: the value students copy from tutorials.
SGD_MOMENTUM = 0.9


def mlp_logits(arrays: Sequence[np.ndarray], X: np.ndarray, mistake: str | None = None) -> np.ndarray:
    """Float64 logits of the network the arrays describe; ``mistake`` a key of MLP_FORWARD_MISTAKES."""
    act = {
        "no-relu": lambda a: a,
        "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
        "tanh": np.tanh,
    }.get(mistake or "", lambda a: np.maximum(a, 0))
    a = X.astype(np.float64)
    layers = len(arrays) // 2
    for i in range(layers):
        a = a @ arrays[2 * i].astype(np.float64).T + arrays[2 * i + 1]
        if i + 1 < layers:
            a = act(a)
    if mistake == "relu-last":
        a = np.maximum(a, 0)
    if mistake in ("softmax", "log-softmax"):
        shifted = a - a.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        a = log_p if mistake == "log-softmax" else np.exp(log_p)
    return a


def train_mlp_variant(
    arrays: Sequence[np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float,
    optimizer: str,
    seed: int,
    mistake: str | None = None,
) -> list[np.ndarray]:
    """The reference train_mlp from the given weights (``mistake=None``) or with one mistake; final arrays."""
    mlp = reference_optimizers()
    torch, nn = mlp.torch, mlp.nn
    model = mlp.mlp_from_arrays(arrays)
    if mistake == "always-adam":
        optimizer = "adam"
    elif mistake == "always-sgd":
        optimizer = "sgd"
    wd = 0.0 if mistake == "no-weight-decay" else weight_decay
    if optimizer != "sgd" and mistake == "sgd-momentum":
        return []  # a mistake of SGD alone
    if optimizer == "sgd" and mistake == "optimizer-per-epoch":
        return []  # plain SGD keeps no state: rebuilding it changes nothing
    if mistake == "lr-ignored":
        opt = torch.optim.Adam(model.parameters(), weight_decay=wd) if optimizer == "adam" else None
        if opt is None:
            return []  # torch.optim.SGD has no default learning rate: that mistake raises instead
    elif mistake == "sgd-momentum":
        opt = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=SGD_MOMENTUM, weight_decay=wd)
    else:
        opt = mlp._make_optimizer(optimizer, model, learning_rate, wd)
    torch.manual_seed(seed)
    Xt = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
    criterion = nn.CrossEntropyLoss(reduction="sum" if mistake == "sum-loss" else "mean")
    model.train()
    for _ in range(epochs):
        if mistake == "optimizer-per-epoch":
            opt = mlp._make_optimizer(optimizer, model, learning_rate, wd)
        order = torch.randperm(Xt.shape[0])
        for start in range(0, Xt.shape[0], batch_size):
            batch = order[start : start + batch_size]
            if mistake != "no-zero-grad":
                opt.zero_grad()
            out = model(Xt[batch])
            if mistake == "softmax-then-ce":
                loss = criterion(torch.softmax(out, dim=1), yt[batch])
            elif mistake == "mse":
                onehot = nn.functional.one_hot(yt[batch], out.shape[1]).to(out.dtype)
                loss = nn.functional.mse_loss(out, onehot)
            else:
                loss = criterion(out, yt[batch])
            if mistake == "step-before-backward":
                opt.step()
                loss.backward()
            else:
                loss.backward()
                opt.step()
    return mlp.model_to_arrays(model)
