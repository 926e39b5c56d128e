"""A correct ex2_pytorch.py written the way a student fills in the handout (nn.Sequential)."""

import numpy as np
import torch
from torch import nn


class MultiLayerPerceptron(nn.Module):
    def __init__(self, input_size, hidden_layers, num_classes):
        super().__init__()
        layers = []
        in_features = input_size
        for width in hidden_layers:
            layers.append(nn.Linear(in_features, width))
            layers.append(nn.ReLU())
            in_features = width
        layers.append(nn.Linear(in_features, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        out = self.layers(x)
        return out


def train_mlp(
    model, X_train, y_train, X_val, y_val, epochs, batch_size, learning_rate, weight_decay=0.0, optimizer="adam", seed=0
):
    torch.manual_seed(seed)
    X_train = torch.as_tensor(np.asarray(X_train), dtype=torch.float32)
    y_train = torch.as_tensor(np.asarray(y_train), dtype=torch.long)
    X_val = torch.as_tensor(np.asarray(X_val), dtype=torch.float32)
    y_val = torch.as_tensor(np.asarray(y_val), dtype=torch.long)

    criterion = nn.CrossEntropyLoss()
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    else:
        raise ValueError(f"unknown optimizer {optimizer}")

    loss_history = []
    val_acc_history = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(X_train))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            X_batch, y_batch = X_train[batch], y_train[batch]
            opt.zero_grad()
            outputs = model(X_batch)
            loss = criterion(outputs, y_batch)
            loss.backward()
            opt.step()
            loss_history.append(loss.item())

        model.eval()
        with torch.no_grad():
            predicted = model(X_val).argmax(dim=1)
            val_acc_history.append((predicted == y_val).float().mean().item())

    return {"loss_history": loss_history, "val_acc_history": val_acc_history}
