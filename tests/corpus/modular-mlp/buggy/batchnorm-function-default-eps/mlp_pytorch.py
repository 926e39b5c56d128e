"""The MLP in PyTorch and its training."""

import copy
import os

import numpy as np
import torch
from torch import nn


def load_data(data_dir):
    data = {}
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        path = os.path.join(data_dir, name + ".npy")
        if os.path.exists(path):
            data[name] = np.load(path, mmap_mode="r" if name.startswith("X") else None)
    return data


class MLP(nn.Module):
    def __init__(self, n_inputs, n_hidden, n_classes, use_batch_norm=False):
        super().__init__()
        layers = []
        width = n_inputs
        for h in n_hidden:
            layers.append(nn.Linear(width, h))
            if use_batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ELU())
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x.reshape(x.shape[0], -1))


@torch.no_grad()
def evaluate(model, x, y):
    model.eval()
    correct = 0
    for start in range(0, len(y), 1000):
        logits = model(torch.from_numpy(np.array(x[start : start + 1000], dtype=np.float32)))
        correct += int((logits.argmax(dim=1).numpy() == y[start : start + 1000]).sum())
    return correct / len(y)


def train(hidden_dims, lr, use_batch_norm, batch_size, epochs, seed, data_dir):
    torch.manual_seed(seed)
    np.random.seed(seed)
    data = load_data(data_dir)
    x_train = torch.from_numpy(np.array(data["X_train"], dtype=np.float32))
    y_train = torch.from_numpy(np.array(data["y_train"], dtype=np.int64))
    model = MLP(x_train.shape[1], hidden_dims, 10, use_batch_norm)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    val_accuracies, losses = [], []
    best_model, best_acc = copy.deepcopy(model), -1
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y_train))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            if len(idx) < 2:
                continue
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        val_accuracies.append(evaluate(model, data["X_val"], data["y_val"]))
        if val_accuracies[-1] > best_acc:
            best_model, best_acc = copy.deepcopy(model), val_accuracies[-1]
    test_accuracy = evaluate(best_model, data["X_test"], data["y_test"]) if "y_test" in data else None
    return best_model.eval(), val_accuracies, test_accuracy, {"loss": losses}
