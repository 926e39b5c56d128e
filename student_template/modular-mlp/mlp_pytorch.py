"""The same MLP in PyTorch, optionally with batch normalisation, and its training (README.md)."""

import os

import numpy as np
import torch  # noqa: F401
from torch import nn


def load_data(data_dir):
    """The arrays of the data folder (see mlp_numpy.load_data). Given; no need to change it."""
    data = {}
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        path = os.path.join(data_dir, name + ".npy")
        if os.path.exists(path):
            data[name] = np.load(path, mmap_mode="r" if name.startswith("X") else None)
    return data


class MLP(nn.Module):
    def __init__(self, n_inputs, n_hidden, n_classes, use_batch_norm=False):
        super().__init__()
        # TODO: per hidden layer nn.Linear, then nn.BatchNorm1d when use_batch_norm, then nn.ELU();
        # last an nn.Linear to n_classes. Register them in this order.
        raise NotImplementedError("MLP.__init__")

    def forward(self, x):
        # TODO: return the logits (no softmax).
        raise NotImplementedError("MLP.forward")


def train(hidden_dims, lr, use_batch_norm, batch_size, epochs, seed, data_dir):
    # TODO: torch.manual_seed(seed); an optimizer of your choice; nn.CrossEntropyLoss; keep the best
    # model on validation. Return (best_model, val_accuracies, test_accuracy or None, {"loss": [...]}).
    raise NotImplementedError("train")


if __name__ == "__main__":
    import json
    import sys

    with open("hyperparams.json") as handle:
        hp = json.load(handle)
    model, val_accuracies, test_accuracy, _ = train(**hp, seed=42, data_dir=sys.argv[1])
    print("validation:", val_accuracies, "test:", test_accuracy)
