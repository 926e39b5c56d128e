"""The MLP in PyTorch: Linear -> [BatchNorm1d] -> ELU per hidden layer, then Linear (logits)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from reference.modular_mlp.data import load_folder


class MLP(nn.Module):
    """Parameters in layer order: per hidden layer the Linear's weight and bias, then (with batch
    norm) the BatchNorm1d's weight and bias; last the output Linear's weight and bias."""

    def __init__(self, n_inputs: int, n_hidden: Sequence[int], n_classes: int, use_batch_norm: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_inputs
        for h in n_hidden:
            layers.append(nn.Linear(width, h))
            if use_batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ELU())
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.reshape(x.shape[0], -1))


def from_state(arrays: Sequence[np.ndarray], use_batch_norm: bool) -> MLP:
    """A reference MLP (eval mode) holding a student's ``state_dict()`` values, given in order.

    The widths come from the 2-D entries (the Linear weights); every entry must then have the
    reference's shape at its position, or ValueError says which does not.
    """
    weights = [a for a in arrays if a.ndim == 2]
    if not weights:
        raise ValueError("no Linear weight (a matrix) in the model's state")
    widths = [w.shape[0] for w in weights[:-1]]
    model = MLP(weights[0].shape[1], widths, weights[-1].shape[0], use_batch_norm=use_batch_norm)
    state = model.state_dict()
    if len(state) != len(arrays):
        raise ValueError(f"the model's state has {len(arrays)} entries, expected {len(state)}")
    for (name, target), array in zip(list(state.items()), arrays, strict=True):
        if target.dim() == 0 and array.shape == (1,):
            array = array.reshape(())  # a scalar (num_batches_tracked) crosses the boundary as shape (1,)
        if tuple(target.shape) != array.shape:
            raise ValueError(f"state entry {name} has shape {array.shape}, expected {tuple(target.shape)}")
        state[name] = torch.from_numpy(np.array(array)).to(target.dtype)
    model.load_state_dict(state)
    return model.eval()


@torch.no_grad()
def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    """Accuracy of ``model`` (eval mode) on ``(x, y)``."""
    model.eval()
    correct = 0
    for start in range(0, len(y), batch_size):
        logits = model(torch.from_numpy(np.array(x[start : start + batch_size], dtype=np.float32)))
        correct += int((logits.argmax(dim=1).numpy() == y[start : start + batch_size]).sum())
    return correct / max(len(y), 1)


def train(
    hidden_dims: list[int],
    lr: float,
    use_batch_norm: bool,
    batch_size: int,
    epochs: int,
    seed: int,
    data_dir: str | Path,
) -> tuple[MLP, list[float], float | None, dict]:
    """Adam on the mean cross-entropy; returns the best model on validation (eval mode), the
    per-epoch validation accuracies, the test accuracy (None without test labels) and the losses."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    data = load_folder(data_dir)
    x_train = torch.from_numpy(np.array(data["X_train"], dtype=np.float32))
    y_train = torch.from_numpy(np.array(data["y_train"], dtype=np.int64))
    model = MLP(x_train.shape[1], hidden_dims, int(y_train.max()) + 1, use_batch_norm)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    val_accuracies: list[float] = []
    losses: list[float] = []
    best, best_accuracy = copy.deepcopy(model), -1.0
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y_train))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            if len(idx) < 2 and use_batch_norm:
                continue  # batch statistics need two samples
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss))
        val_accuracies.append(evaluate(model, data["X_val"], data["y_val"]))
        if val_accuracies[-1] > best_accuracy:
            best, best_accuracy = copy.deepcopy(model), val_accuracies[-1]
    test_accuracy = evaluate(best, data["X_test"], data["y_test"]) if "y_test" in data else None
    return best.eval(), val_accuracies, test_accuracy, {"loss": losses}
