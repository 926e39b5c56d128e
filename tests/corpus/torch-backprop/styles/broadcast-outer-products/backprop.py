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
    """Fill model.dL_dw[l] and model.dL_db[l] for l = 1..model.L (batched outer products)."""
    with torch.no_grad():
        N = y_pred.size(0)
        err = torch.sub(y_pred, y_true)
        delta = torch.mul(err, model.df[model.L](model.z[model.L])) * (2.0 / N)
        for l in range(model.L, 0, -1):
            # per-sample outer products delta_n a_n^T, summed over the batch (vectorised, no sample loop)
            model.dL_dw[l] = (delta.unsqueeze(2) * model.a[l - 1].unsqueeze(1)).sum(dim=0)
            model.dL_db[l] = torch.einsum("ni->i", delta)
            if l > 1:
                back = torch.einsum("ni,ij->nj", delta, model.fc[str(l)].weight)
                delta = back * model.df[l - 1](model.z[l - 1])


def _run_epochs(n_epochs, model, loss_fn, loader, zero, update):
    history = []
    for _ in range(n_epochs):
        total = torch.zeros(())
        n_batches = 0
        it = iter(loader)
        while True:
            try:
                x, y = next(it)
            except StopIteration:
                break
            zero()
            loss = loss_fn(model(x), y)
            loss.backward()
            update()
            total += loss.detach()
            n_batches += 1
        history.append((total / n_batches).item())
    return history


def train_manual_update(n_epochs, lr, model, loss_fn, train_loader, momentum=0, weight_decay=0):
    """Train model with SGD written by hand; return the mean batch loss of every epoch (a list)."""
    momentum_buffer = {}

    def update():
        with torch.no_grad():
            for name, p in model.named_parameters():
                g = torch.add(p.grad, p, alpha=weight_decay) if weight_decay else p.grad
                if momentum:
                    if name in momentum_buffer:
                        g = torch.add(g, momentum_buffer[name], alpha=momentum)
                    else:
                        g = g.detach().clone()
                    momentum_buffer[name] = g
                p.sub_(lr * g)

    return _run_epochs(n_epochs, model, loss_fn, train_loader, model.zero_grad, update)


def train(n_epochs, optimizer, model, loss_fn, train_loader):
    """The same training loop with a torch.optim optimizer; return the mean batch loss of every epoch."""
    return _run_epochs(n_epochs, model, loss_fn, train_loader, optimizer.zero_grad, optimizer.step)


if __name__ == "__main__":
    torch.manual_seed(265)
    model = MyNet([2, 8, 1], ["tanh", "identity"])
    X = torch.randn(64, 2)
    Y = X[:, :1] * X[:, 1:]
    loader = DataLoader(ArrayDataset(X, Y), batch_size=16, shuffle=False)
    print(train_manual_update(5, 0.1, model, SquaredError(), loader, momentum=0.9))

