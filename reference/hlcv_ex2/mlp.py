"""Trusted PyTorch reference for the multi-layer perceptron of ``hlcv-ex2``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")


class MultiLayerPerceptron(nn.Module):
    """Linear, ReLU, ..., Linear; ``forward`` returns logits (no softmax).

    ``parameters()`` yields weight, bias of each Linear in layer order, which is
    what lets the grader load weights by position whatever the student named
    their attributes.
    """

    def __init__(self, input_size: int, hidden_layers: Sequence[int], num_classes: int) -> None:
        super().__init__()
        widths = [int(input_size), *(int(h) for h in hidden_layers), int(num_classes)]
        if any(w <= 0 for w in widths):
            raise ValueError(f"layer widths must be positive, got {widths}")
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            if i > 0:
                layers.append(nn.ReLU())
            layers.append(nn.Linear(fan_in, fan_out))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def _param_dtype(model: nn.Module) -> torch.dtype:
    first = next(model.parameters(), None)
    return first.dtype if first is not None else torch.get_default_dtype()


def _make_optimizer(name: str, model: nn.Module, learning_rate: float, weight_decay: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}: expected one of {', '.join(OPTIMIZERS)}")


def train_mlp(
    model: nn.Module,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float = 0.0,
    optimizer: str = "adam",
    seed: int = 0,
) -> dict[str, list[float]]:
    """Train ``model`` in place with cross-entropy and Adam or plain SGD.

    Seeds torch's global generator with ``seed`` and draws one ``torch.randperm``
    per epoch, so a correct submission given the same initial weights follows
    the same batches. Returns ``loss_history`` (one entry per batch) and
    ``val_acc_history`` (one entry per epoch).
    """
    # Reject a bad optimizer name before touching any random state.
    opt = _make_optimizer(optimizer, model, learning_rate, weight_decay)
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    torch.manual_seed(seed)
    dtype = _param_dtype(model)
    Xt = torch.as_tensor(np.asarray(X_train), dtype=dtype)
    yt = torch.as_tensor(np.asarray(y_train), dtype=torch.long)
    Xv = torch.as_tensor(np.asarray(X_val), dtype=dtype)
    yv = torch.as_tensor(np.asarray(y_val), dtype=torch.long)
    criterion = nn.CrossEntropyLoss()

    loss_history: list[float] = []
    val_acc_history: list[float] = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(Xt.shape[0])
        for start in range(0, Xt.shape[0], batch_size):
            batch = order[start : start + batch_size]
            opt.zero_grad()
            loss = criterion(model(Xt[batch]), yt[batch])
            loss.backward()
            opt.step()
            loss_history.append(float(loss.item()))
        model.eval()
        with torch.no_grad():
            val_acc_history.append(float((model(Xv).argmax(dim=1) == yv).double().mean().item()))
    return {"loss_history": loss_history, "val_acc_history": val_acc_history}


def model_to_arrays(model: nn.Module) -> list[np.ndarray]:
    """The model's parameters in order (weight, bias, ...) as numpy arrays."""
    return [p.detach().cpu().numpy().copy() for p in model.parameters()]


def _check_arrays(arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Validate a (weight, bias, weight, bias, ...) list; raise ValueError naming the problem."""
    arrays = list(arrays)
    if not arrays:
        raise ValueError("no arrays given: expected weight, bias, weight, bias, ...")
    if len(arrays) % 2:
        raise ValueError(f"{len(arrays)} arrays given: expected an even number (weight, bias per layer)")
    checked = []
    for i, raw in enumerate(arrays):
        layer, kind = i // 2 + 1, ("weight", "bias")[i % 2]
        arr = np.asarray(raw)
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"layer {layer} {kind}: dtype {arr.dtype} is not numeric")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"layer {layer} {kind}: contains NaN or infinity")
        checked.append(arr)
    for layer, (w, b) in enumerate(zip(checked[0::2], checked[1::2], strict=True), start=1):
        if w.ndim != 2:
            raise ValueError(f"layer {layer} weight: shape {w.shape}, expected 2-D (out, in)")
        if b.shape != (w.shape[0],):
            raise ValueError(f"layer {layer} bias: shape {b.shape}, expected ({w.shape[0]},) to match its weight")
        if layer > 1:
            prev_out = checked[2 * layer - 4].shape[0]
            if w.shape[1] != prev_out:
                raise ValueError(
                    f"layer {layer} weight: shape {w.shape} takes {w.shape[1]} inputs "
                    f"but layer {layer - 1} gives {prev_out}"
                )
    return checked


def mlp_from_arrays(arrays: Sequence[np.ndarray], dtype: torch.dtype = torch.float32) -> MultiLayerPerceptron:
    """Rebuild a ``MultiLayerPerceptron`` from (weight, bias, ...) arrays, weights shaped (out, in)."""
    checked = _check_arrays(arrays)
    weights = checked[0::2]
    model = MultiLayerPerceptron(weights[0].shape[1], [w.shape[0] for w in weights[:-1]], weights[-1].shape[0])
    model = model.to(dtype)
    with torch.no_grad():
        for param, arr in zip(model.parameters(), checked, strict=True):
            param.copy_(torch.as_tensor(arr, dtype=dtype))
    model.eval()
    return model


def mlp_accuracy(arrays: Sequence[np.ndarray], X: np.ndarray, y: np.ndarray) -> float:
    """Accuracy on (X, y) of the network the arrays describe."""
    model = mlp_from_arrays(arrays)
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != model.layers[0].in_features:
        raise ValueError(f"X has shape {X.shape}, expected (N, {model.layers[0].in_features})")
    with torch.no_grad():
        pred = model(torch.as_tensor(X, dtype=torch.float32)).argmax(dim=1).numpy()
    return float(np.mean(pred == np.asarray(y)))
