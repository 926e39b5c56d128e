"""The modular numpy MLP and its training on the prepared CIFAR-10 folder (README.md)."""

import os

import numpy as np
from modules import CrossEntropyModule, ELUModule, LinearModule, SoftMaxModule  # noqa: F401


def load_data(data_dir):
    """The arrays of the data folder: X_train, y_train, X_val, y_val and, if present, X_test, y_test.
    Images are memory-mapped (read from disk as they are used). Given; no need to change it."""
    data = {}
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        path = os.path.join(data_dir, name + ".npy")
        if os.path.exists(path):
            data[name] = np.load(path, mmap_mode="r" if name.startswith("X") else None)
    return data


def accuracy(predictions, targets):
    # TODO: the fraction of rows of predictions (N, C) whose largest entry is at the target class.
    raise NotImplementedError("accuracy")


class MLP:
    def __init__(self, n_inputs, n_hidden, n_classes):
        # TODO: self.layers = [LinearModule (input layer), ELUModule(1.0), ..., LinearModule, SoftMaxModule()]
        raise NotImplementedError("MLP.__init__")

    def forward(self, x):
        raise NotImplementedError("MLP.forward")

    def backward(self, dout):
        raise NotImplementedError("MLP.backward")

    def clear_cache(self):
        raise NotImplementedError("MLP.clear_cache")


def train_step(model, x, y, lr):
    # TODO: forward, mean cross-entropy, backward, then p -= lr * grad for every LinearModule's
    # weight and bias. Return the loss computed before the update.
    raise NotImplementedError("train_step")


def train(hidden_dims, lr, batch_size, epochs, seed, data_dir):
    # TODO: np.random.seed(seed); build the MLP; per epoch one np.random.permutation of the training
    # set, batches of batch_size in that order, train_step on each; validation accuracy after each
    # epoch; keep a copy of the best model on validation.
    # Return (best_model, val_accuracies, test_accuracy or None, {"loss": [...]})
    raise NotImplementedError("train")


if __name__ == "__main__":
    import sys

    model, val_accuracies, test_accuracy, _ = train([128], 0.1, 128, 10, 42, sys.argv[1])
    print("validation:", val_accuracies, "test:", test_accuracy)
