"""Backpropagation and gradient descent by hand, for a PyTorch network.

Leave the code marked GIVEN as it is: the grader builds networks, data sets, loaders and losses from these names.
Importing this file must not train anything or load data.
"""

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

# GIVEN: every computation of this assignment is in float64.
torch.set_default_dtype(torch.double)


# GIVEN: the activation functions, and their derivatives as functions of the pre-activation z.
def identity(z):
    return z


f = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": identity}
df = {
    "relu": lambda z: (z > 0).to(z.dtype),
    "sigmoid": lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z)),
    "tanh": lambda z: 1 - torch.tanh(z) ** 2,
    "identity": torch.ones_like,
}


class MyNet(nn.Module):
    """GIVEN. A fully connected network with L = len(n_l) - 1 layers.

    Layer l (1..L) is self.fc[str(l)] = nn.Linear(n_l[l-1], n_l[l]) followed by the activation
    named activations[l-1]. forward keeps a[0] = x and, for every layer, z[l] and a[l].
    """

    def __init__(self, n_l, activations):
        super().__init__()
        self.n_l = list(n_l)
        self.L = len(n_l) - 1
        self.fc = nn.ModuleDict({str(l): nn.Linear(n_l[l - 1], n_l[l]) for l in range(1, self.L + 1)})
        self.f = {l: f[name] for l, name in enumerate(activations, start=1)}
        self.df = {l: df[name] for l, name in enumerate(activations, start=1)}
        self.a = {}
        self.z = {}
        self.dL_dw = {}
        self.dL_db = {}

    def forward(self, x):
        self.a[0] = x
        for l in range(1, self.L + 1):
            self.z[l] = self.fc[str(l)](self.a[l - 1])
            self.a[l] = self.f[l](self.z[l])
        return self.a[self.L]


class SquaredError(nn.Module):
    """GIVEN. L = 1/N sum_i ||y_pred_i - y_true_i||^2: summed over the outputs, averaged over the batch."""

    def forward(self, y_pred, y_true):
        return ((y_pred - y_true) ** 2).sum(dim=1).mean()


class ArrayDataset(TensorDataset):
    """GIVEN. A data set of inputs X (as float64) and targets Y, from numpy arrays or tensors."""

    def __init__(self, X, Y):
        super().__init__(torch.as_tensor(np.asarray(X, dtype=np.float64)), torch.as_tensor(np.asarray(Y)))


def backpropagation(model, y_true, y_pred):
    """Fill model.dL_dw[l] and model.dL_db[l] for l = 1..model.L.

    The loss is the squared error L = 1/N sum_i ||y_pred_i - y_true_i||^2, where y_pred is the
    output of model.forward on the batch (so model.a and model.z belong to that batch).
    dL_dw[l] has the shape of model.fc[str(l)].weight, dL_db[l] that of its bias.
    Use model.a, model.z, model.df and the weights; no loop over the samples, no autograd.
    """
    with torch.no_grad():
        L = model.L
        N = y_true.shape[0]
        delta = 2 / N * (y_pred - y_true) * model.df[L](model.z[L])
        for l in range(L, 0, -1):
            model.dL_dw[l] = delta.T @ model.a[l - 1]
            model.dL_db[l] = delta.sum(dim=0)
            if l > 1:
                delta = (delta @ model.fc[str(l)].weight) * model.df[l - 1](model.z[l - 1])


def train_manual_update(n_epochs, lr, model, loss_fn, train_loader, momentum=0.9, weight_decay=0):
    """Train model with SGD written by hand; return the mean batch loss of every epoch (a list).

    Compute the gradients with loss.backward(), then update every parameter yourself exactly as
    torch.optim.SGD(model.parameters(), lr, momentum, weight_decay) would (see README.md).
    """
    velocities = [None for _ in model.parameters()]
    losses_train = []
    for _epoch in range(n_epochs):
        loss_train = 0.0
        for x, y in train_loader:
            model.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            with torch.no_grad():
                for i, p in enumerate(model.parameters()):
                    grad = p.grad
                    if weight_decay != 0:
                        grad = grad + weight_decay * p
                    if momentum != 0:
                        if velocities[i] is None:
                            velocities[i] = grad.clone()
                        else:
                            velocities[i] = momentum * velocities[i] + grad
                        grad = velocities[i]
                    p -= lr * grad
            loss_train += loss.item()
        losses_train.append(loss_train / len(train_loader))
    return losses_train


def train(n_epochs, optimizer, model, loss_fn, train_loader):
    """The same training loop with a torch.optim optimizer; return the mean batch loss of every epoch."""
    losses_train = []
    for _epoch in range(n_epochs):
        loss_train = 0.0
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            loss_train += loss.item()
        losses_train.append(loss_train / len(train_loader))
    return losses_train


if __name__ == "__main__":
    # A small example run (not used by the grader).
    torch.manual_seed(265)
    model = MyNet([2, 8, 1], ["tanh", "identity"])
    X = torch.randn(64, 2)
    Y = X[:, :1] * X[:, 1:]
    loader = DataLoader(ArrayDataset(X, Y), batch_size=16, shuffle=False)
    print(train_manual_update(5, 0.1, model, SquaredError(), loader, momentum=0.9))
