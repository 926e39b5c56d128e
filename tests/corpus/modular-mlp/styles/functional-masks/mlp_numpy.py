"""The modular numpy MLP and its training."""

import copy
import os

import numpy as np
from modules import CrossEntropyModule, ELUModule, LinearModule, SoftMaxModule


def load_data(data_dir):
    data = {}
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        path = os.path.join(data_dir, name + ".npy")
        if os.path.exists(path):
            data[name] = np.load(path, mmap_mode="r" if name.startswith("X") else None)
    return data


def accuracy(predictions, targets):
    return (np.argmax(predictions, 1) == targets).mean().item()


class MLP:
    def __init__(self, n_inputs, n_hidden, n_classes):
        self.layers = []
        sizes = [n_inputs, *n_hidden]
        for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
            self.layers += [LinearModule(a, b, input_layer=k == 0), ELUModule(1.0)]
        self.layers += [LinearModule(sizes[-1], n_classes, input_layer=not n_hidden), SoftMaxModule()]

    def forward(self, x):
        for m in self.layers:
            x = m.forward(x)
        return x

    def backward(self, dout):
        for m in reversed(self.layers):
            dout = m.backward(dout)

    def clear_cache(self):
        for m in self.layers:
            m.clear_cache()


def train_step(model, x, y, lr):
    crit = CrossEntropyModule()
    p = model.forward(x)
    loss = crit.forward(p, y)
    model.backward(crit.backward(p, y))
    updates = [(m.params, m.grads) for m in model.layers if isinstance(m, LinearModule)]
    for params, grads in updates:
        for key in ("weight", "bias"):
            np.subtract(params[key], lr * grads[key], out=params[key])
    return float(loss)


def train(hidden_dims, lr, batch_size, epochs, seed, data_dir):
    np.random.seed(seed)
    d = load_data(data_dir)
    n_train = d["y_train"].shape[0]
    model = MLP(d["X_train"].shape[1], hidden_dims, 10)

    def score(net, xs, ys):
        hits = 0
        for i in range(0, len(ys), 500):
            hits += int((net.forward(np.array(xs[i:i + 500], dtype=np.float64)).argmax(1) == ys[i:i + 500]).sum())
        net.clear_cache()
        return hits / len(ys)

    val_accuracies, losses = [], []
    best_model = None
    for _ in range(epochs):
        order = np.random.permutation(n_train)
        start = 0
        while start < n_train:
            idx = order[start:start + batch_size]
            losses.append(train_step(model, np.array(d["X_train"][idx], dtype=np.float64), d["y_train"][idx], lr))
            start += batch_size
        val_accuracies.append(score(model, d["X_val"], d["y_val"]))
        if val_accuracies[-1] == max(val_accuracies):
            model.clear_cache()
            best_model = copy.deepcopy(model)
    test_accuracy = score(best_model, d["X_test"], d["y_test"]) if "y_test" in d else None
    return best_model, val_accuracies, test_accuracy, {"loss": losses}


if __name__ == "__main__":
    import sys

    model, val_accuracies, test_accuracy, _ = train([128], 0.1, 128, 10, 42, sys.argv[1])
    print("validation:", val_accuracies, "test:", test_accuracy)
