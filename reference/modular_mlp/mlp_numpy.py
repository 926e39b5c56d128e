"""The modular numpy MLP: Linear -> ELU -> ... -> Linear -> SoftMax, one SGD step, and training."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from reference.modular_mlp.data import load_folder
from reference.modular_mlp.modules import CrossEntropyModule, ELUModule, LinearModule, SoftMaxModule

#: The ELU's alpha in every hidden layer of the MLP.
ELU_ALPHA = 1.0


class MLP:
    """``layers`` holds the modules in the order ``forward`` applies them; only the first Linear is
    an input layer. ``forward`` returns the softmax probabilities."""

    def __init__(self, n_inputs: int, n_hidden: list[int], n_classes: int) -> None:
        self.layers: list = []
        width = n_inputs
        for i, h in enumerate(n_hidden):
            self.layers += [LinearModule(width, h, input_layer=i == 0), ELUModule(ELU_ALPHA)]
            width = h
        self.layers += [LinearModule(width, n_classes, input_layer=not n_hidden), SoftMaxModule()]

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout: np.ndarray) -> None:
        for layer in reversed(self.layers):
            dout = layer.backward(dout)

    def clear_cache(self) -> None:
        for layer in self.layers:
            layer.clear_cache()

    def linear_layers(self) -> list[LinearModule]:
        return [layer for layer in self.layers if isinstance(layer, LinearModule)]


def train_step(model: MLP, x: np.ndarray, y: np.ndarray, lr: float) -> float:
    """Forward, mean cross-entropy, backward, then ``p -= lr * grad`` for every Linear; the loss before."""
    loss_module = CrossEntropyModule()
    probs = model.forward(x)
    loss = loss_module.forward(probs, y)
    model.backward(loss_module.backward(probs, y))
    for layer in model.linear_layers():
        for key in ("weight", "bias"):
            layer.params[key] -= lr * layer.grads[key]
    return loss


def accuracy(predictions: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of rows whose highest score is the target class."""
    return float(np.mean(np.argmax(predictions, axis=1) == targets))


def evaluate(model: MLP, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    """Accuracy of ``model`` on ``(x, y)``, in batches (memory stays small for the test set)."""
    correct = 0
    for start in range(0, len(y), batch_size):
        probs = model.forward(np.asarray(x[start : start + batch_size], dtype=np.float64))
        correct += int(np.sum(np.argmax(probs, axis=1) == y[start : start + batch_size]))
    model.clear_cache()
    return correct / max(len(y), 1)


def train(
    hidden_dims: list[int], lr: float, batch_size: int, epochs: int, seed: int, data_dir: str | Path
) -> tuple[MLP, list[float], float | None, dict]:
    """Train with minibatch SGD; returns the best model on validation, the per-epoch validation
    accuracies, the test accuracy (None when the folder has no test labels) and the losses.

    Order of random draws (fixed by the handout): ``np.random.seed(seed)``, build the MLP, then one
    ``np.random.permutation(n_train)`` per epoch; batches are consecutive slices of it.
    """
    np.random.seed(seed)
    data = load_folder(data_dir)
    x_train, y_train = data["X_train"], data["y_train"]
    model = MLP(x_train.shape[1], list(hidden_dims), int(y_train.max()) + 1)
    val_accuracies: list[float] = []
    losses: list[float] = []
    best, best_accuracy = copy.deepcopy(model), -1.0
    for _ in range(epochs):
        order = np.random.permutation(len(y_train))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            losses.append(train_step(model, np.asarray(x_train[idx], dtype=np.float64), y_train[idx], lr))
        val_accuracies.append(evaluate(model, data["X_val"], data["y_val"]))
        if val_accuracies[-1] > best_accuracy:
            best, best_accuracy = copy.deepcopy(model), val_accuracies[-1]
    test_accuracy = evaluate(best, data["X_test"], data["y_test"]) if "y_test" in data else None
    return best, val_accuracies, test_accuracy, {"loss": losses}
