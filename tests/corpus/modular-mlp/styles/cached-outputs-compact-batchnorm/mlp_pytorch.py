"""The same MLP in PyTorch (nn.Sequential with named layers)."""

import copy
import os
from collections import OrderedDict

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
        named = OrderedDict()
        last = n_inputs
        for i, width in enumerate(n_hidden):
            named[f"linear{i}"] = nn.Linear(last, width)
            if use_batch_norm:
                named[f"bn{i}"] = nn.BatchNorm1d(width)
            named[f"elu{i}"] = nn.ELU()
            last = width
        named["out"] = nn.Linear(last, n_classes)
        self.net = nn.Sequential(named)

    def forward(self, x):
        return self.net(x.view(x.size(0), -1))


def train(hidden_dims, lr, use_batch_norm, batch_size, epochs, seed, data_dir):
    torch.manual_seed(seed)
    data = load_data(data_dir)
    train_set = torch.utils.data.TensorDataset(
        torch.tensor(np.asarray(data["X_train"]), dtype=torch.float32),
        torch.tensor(np.asarray(data["y_train"]), dtype=torch.long),
    )
    loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True,
                                         drop_last=use_batch_norm)
    x_val = torch.tensor(np.asarray(data["X_val"]), dtype=torch.float32)
    y_val = torch.tensor(np.asarray(data["y_val"]), dtype=torch.long)
    model = MLP(x_val.shape[1], hidden_dims, 10, use_batch_norm)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_module = nn.CrossEntropyLoss()
    val_accuracies, losses = [], []
    best_state, best_acc = None, -1.0
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_module(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            acc = (model(x_val).argmax(dim=1) == y_val).float().mean().item()
        val_accuracies.append(acc)
        if acc > best_acc:
            best_acc, best_state = acc, copy.deepcopy(model.state_dict())
    best_model = MLP(x_val.shape[1], hidden_dims, 10, use_batch_norm)
    best_model.load_state_dict(best_state)
    best_model.eval()
    test_accuracy = None
    if "y_test" in data:
        with torch.no_grad():
            logits = best_model(torch.tensor(np.asarray(data["X_test"]), dtype=torch.float32))
        test_accuracy = (logits.argmax(1).numpy() == data["y_test"]).mean().item()
    return best_model, val_accuracies, test_accuracy, {"loss": losses}


if __name__ == "__main__":
    import json
    import sys

    with open("hyperparams.json") as handle:
        hp = json.load(handle)
    model, val_accuracies, test_accuracy, _ = train(**hp, seed=42, data_dir=sys.argv[1])
    print("validation:", val_accuracies, "test:", test_accuracy)
