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


def _layer_grads(model, l, dL_da):
    """Gradients of layer l from dL/da[l]; returns dL/da[l-1]."""
    dL_dz = dL_da * model.df[l](model.z[l])
    a_prev = model.a[l - 1]
    model.dL_dw[l] = torch.einsum("ni,nj->ij", dL_dz, a_prev)
    model.dL_db[l] = torch.ones(dL_dz.shape[0], dtype=dL_dz.dtype) @ dL_dz
    return torch.mm(dL_dz, model.fc[str(l)].weight)


def backpropagation(model, y_true, y_pred):
    """Fill model.dL_dw[l] and model.dL_db[l] for l = 1..model.L (propagating dL/da backwards)."""
    with torch.no_grad():
        n = y_true.shape[0]
        dL_da = (y_pred - y_true).mul(2.0).div(n)
        l = model.L
        while l >= 1:
            dL_da = _layer_grads(model, l, dL_da)
            l -= 1


class HandSGD:
    """SGD with momentum and weight decay, state per parameter, updated in place."""

    def __init__(self, params, lr, momentum=0, weight_decay=0):
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.state = {}

    def zero_grad(self):
        for p in self.params:
            if p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self):
        for p in self.params:
            d_p = p.grad
            if self.weight_decay != 0:
                d_p = d_p.add(p, alpha=self.weight_decay)
            if self.momentum != 0:
                buf = self.state.get(p)
                if buf is None:
                    buf = self.state[p] = torch.clone(d_p).detach()
                else:
                    buf.mul_(self.momentum).add_(d_p)
                d_p = buf
            p.add_(d_p, alpha=-self.lr)


def _epoch(model, loss_fn, loader, opt):
    running, count = 0.0, 0
    for x, y in loader:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        running += loss.item()
        count += 1
    return running / count


def train_manual_update(n_epochs, lr, model, loss_fn, train_loader, momentum=0, weight_decay=0):
    """Train model with SGD written by hand; return the mean batch loss of every epoch (a list)."""
    opt = HandSGD(model.parameters(), lr, momentum, weight_decay)
    return [_epoch(model, loss_fn, train_loader, opt) for _ in range(n_epochs)]


def train(n_epochs, optimizer, model, loss_fn, train_loader):
    """The same training loop with a torch.optim optimizer; return the mean batch loss of every epoch."""
    return [_epoch(model, loss_fn, train_loader, optimizer) for _ in range(n_epochs)]


if __name__ == "__main__":
    torch.manual_seed(265)
    model = MyNet([2, 8, 1], ["tanh", "identity"])
    X = torch.randn(64, 2)
    Y = X[:, :1] * X[:, 1:]
    loader = DataLoader(ArrayDataset(X, Y), batch_size=16, shuffle=False)
    print(train_manual_update(5, 0.1, model, SquaredError(), loader, momentum=0.9))

