"""The modular numpy MLP and its training."""

import copy
import os
from functools import reduce

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
    return np.mean(predictions.argmax(axis=-1) == targets)


class MLP:
    def __init__(self, n_inputs, n_hidden, n_classes):
        layers = [LinearModule(n_inputs, (list(n_hidden) + [n_classes])[0], input_layer=True)]
        dims = list(n_hidden) + [n_classes]
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            layers.append(ELUModule(1.0))
            layers.append(LinearModule(d_in, d_out))
        layers.append(SoftMaxModule())
        self.layers = layers

    def forward(self, x):
        return reduce(lambda h, layer: layer.forward(h), self.layers, x)

    def backward(self, dout):
        return reduce(lambda g, layer: layer.backward(g), reversed(self.layers), dout)

    def clear_cache(self):
        for layer in self.layers:
            layer.clear_cache()


def train_step(model, x, y, lr):
    loss_fn = CrossEntropyModule()
    probs = model.forward(x)
    loss = loss_fn.forward(probs, y)
    model.backward(loss_fn.backward(probs, y))
    linears = [layer for layer in model.layers if isinstance(layer, LinearModule)]
    for layer in linears:
        layer.params["weight"] -= lr * layer.grads["weight"]
        layer.params["bias"] -= lr * layer.grads["bias"]
    return loss


def train(hidden_dims, lr, batch_size, epochs, seed, data_dir):
    np.random.seed(seed)
    data = load_data(data_dir)
    n_train = len(data["y_train"])
    model = MLP(data["X_train"].shape[1], hidden_dims, 10)

    def evaluate(net, x, y):
        probs = np.concatenate([net.forward(np.asarray(x[i:i + 1024], dtype=np.float64))
                                for i in range(0, len(y), 1024)])
        net.clear_cache()
        return float(accuracy(probs, y))

    val_accuracies, logs = [], {"loss": [], "val_accuracy": []}
    best_model, best = None, None
    for epoch in range(epochs):
        permutation = np.random.permutation(n_train)
        batches = [permutation[i:i + batch_size] for i in range(0, n_train, batch_size)]
        epoch_losses = [train_step(model, np.asarray(data["X_train"][b], dtype=np.float64),
                                   data["y_train"][b], lr) for b in batches]
        logs["loss"].append(float(np.mean(epoch_losses)))
        val = evaluate(model, data["X_val"], data["y_val"])
        val_accuracies.append(val)
        logs["val_accuracy"].append(val)
        if best is None or val > best:
            best = val
            best_model = copy.deepcopy(model)
    test_accuracy = evaluate(best_model, data["X_test"], data["y_test"]) if "y_test" in data else None
    return best_model, val_accuracies, test_accuracy, logs


if __name__ == "__main__":
    import sys

    model, val_accuracies, test_accuracy, _ = train([128], 0.1, 128, 10, 42, sys.argv[1])
    print("validation:", val_accuracies, "test:", test_accuracy)
