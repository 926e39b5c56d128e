"""Training loops: SGD written by hand with ``torch.optim.SGD``'s semantics, and the same loop with
a ``torch.optim`` optimizer."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def train_manual_update(
    n_epochs: int,
    lr: float,
    model: nn.Module,
    loss_fn: LossFn,
    train_loader: DataLoader,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> list[float]:
    """Train with SGD updated by hand; returns the mean of the batch losses of every epoch.

    Per parameter and step, as ``torch.optim.SGD`` without dampening or Nesterov:
    ``g = grad + weight_decay * p``; ``b = g`` at the first step, else ``b = momentum * b + g``
    (only when ``momentum != 0``); ``p = p - lr * b`` (or ``p - lr * g`` without momentum).
    """
    buffers: dict[int, torch.Tensor] = {}
    losses = []
    for _ in range(n_epochs):
        total, batches = 0.0, 0
        for x, y in train_loader:
            model.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            with torch.no_grad():
                for i, p in enumerate(model.parameters()):
                    g = p.grad + weight_decay * p if weight_decay != 0 else p.grad
                    if momentum != 0:
                        if i in buffers:
                            buffers[i] = momentum * buffers[i] + g
                        else:
                            buffers[i] = g.clone()
                        g = buffers[i]
                    p -= lr * g
            total += loss.item()
            batches += 1
        losses.append(total / batches)
    return losses


def train(
    n_epochs: int, optimizer: torch.optim.Optimizer, model: nn.Module, loss_fn: LossFn, train_loader: DataLoader
) -> list[float]:
    """The same loop with a ``torch.optim`` optimizer; returns the mean batch loss of every epoch."""
    losses = []
    for _ in range(n_epochs):
        total, batches = 0.0, 0
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item()
            batches += 1
        losses.append(total / batches)
    return losses


def loader(X: np.ndarray, Y: np.ndarray, batch_size: int, shuffle: bool = False) -> DataLoader:
    """A ``DataLoader`` over the arrays (float inputs as float64; integer targets as int64)."""
    targets = torch.as_tensor(np.asarray(Y))
    dataset = TensorDataset(torch.as_tensor(np.asarray(X, dtype=np.float64)), targets)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)
