"""The modular numpy MLP and its training."""

import copy
import os

import numpy as np
from modules import CrossEntropyModule, ELUModule, LinearModule, SoftMaxModule


def load_data(data_dir):
    """The arrays of the data folder (X_train, y_train, X_val, y_val and, if present, X_test, y_test)."""
    data = {}
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        path = os.path.join(data_dir, name + ".npy")
        if os.path.exists(path):
            data[name] = np.load(path, mmap_mode="r" if name.startswith("X") else None)
    return data


def accuracy(predictions, targets):
    return float(np.mean(np.argmax(predictions, axis=1) == targets))


class MLP:
    def __init__(self, n_inputs, n_hidden, n_classes):
        self.layers = []
        width = n_inputs
        for i, h in enumerate(n_hidden):
            self.layers.append(LinearModule(width, h, input_layer=(i == 0)))
            self.layers.append(ELUModule(1.0))
            width = h
        self.layers.append(LinearModule(width, n_classes, input_layer=(len(n_hidden) == 0)))
        self.layers.append(SoftMaxModule())

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)

    def clear_cache(self):
        for layer in self.layers:
            layer.clear_cache()


def train_step(model, x, y, lr):
    loss_module = CrossEntropyModule()
    out = model.forward(x)
    loss = loss_module.forward(out, y)
    model.backward(loss_module.backward(out, y))
    for layer in model.layers:
        if isinstance(layer, LinearModule):
            layer.params["weight"] -= lr * layer.grads["weight"]
            layer.params["bias"] -= lr * layer.grads["bias"]
    return loss


def evaluate(model, x, y):
    correct = 0
    for start in range(0, len(y), 1000):
        out = model.forward(np.asarray(x[start : start + 1000], dtype=np.float64))
        correct += np.sum(np.argmax(out, axis=1) == y[start : start + 1000])
    model.clear_cache()
    return correct / len(y)


def train(hidden_dims, lr, batch_size, epochs, seed, data_dir):
    np.random.seed(seed)
    data = load_data(data_dir)
    x_train, y_train = data["X_train"], data["y_train"]
    model = MLP(x_train.shape[1], hidden_dims, 10)
    val_accuracies, losses = [], []
    best_model, best_acc = copy.deepcopy(model), -1
    for _ in range(epochs):
        order = np.random.permutation(len(y_train))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            losses.append(train_step(model, np.asarray(x_train[idx], dtype=np.float64), y_train[idx], lr))
        val_accuracies.append(evaluate(model, data["X_val"], data["y_val"]))
        if val_accuracies[-1] > best_acc:
            best_model, best_acc = copy.deepcopy(model), val_accuracies[-1]
    test_accuracy = evaluate(best_model, data["X_test"], data["y_test"]) if "y_test" in data else None
    return best_model, val_accuracies, test_accuracy, {"loss": losses}
