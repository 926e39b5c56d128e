"""The same MLP in PyTorch: layers registered with add_module, ELU through torch.nn.functional."""

import copy
import os

import numpy as np
import torch
import torch.nn.functional as F
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
        self.hidden = []
        d = n_inputs
        for i, h in enumerate(n_hidden):
            fc = nn.Linear(d, h)
            self.add_module(f"fc{i}", fc)
            bn = None
            if use_batch_norm:
                bn = nn.BatchNorm1d(h)
                self.add_module(f"bn{i}", bn)
            self.hidden.append((fc, bn))
            d = h
        self.head = nn.Linear(d, n_classes)

    def forward(self, x):
        x = x.reshape(len(x), -1)
        for fc, bn in self.hidden:
            x = fc(x)
            if bn is not None:
                x = bn(x)
            x = F.elu(x)
        return self.head(x)


def train(hidden_dims, lr, use_batch_norm, batch_size, epochs, seed, data_dir):
    torch.manual_seed(seed)
    np.random.seed(seed)
    d = load_data(data_dir)
    x = torch.from_numpy(np.ascontiguousarray(d["X_train"], dtype=np.float32))
    y = torch.from_numpy(np.ascontiguousarray(d["y_train"], dtype=np.int64))
    xv = torch.from_numpy(np.ascontiguousarray(d["X_val"], dtype=np.float32))
    yv = torch.from_numpy(np.ascontiguousarray(d["y_val"], dtype=np.int64))
    model = MLP(x.shape[1], hidden_dims, 10, use_batch_norm)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    steps = epochs * ((len(y) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    ce = nn.CrossEntropyLoss()
    vals, losses, best, best_acc = [], [], None, -1.0
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(y)).split(batch_size):
            if len(idx) < 2:
                continue
            loss = ce(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.detach().item())
        model.eval()
        with torch.inference_mode():
            acc = model(xv).argmax(-1).eq(yv).double().mean().item()
        vals.append(acc)
        if acc > best_acc:
            best_acc, best = acc, copy.deepcopy(model)
    best.eval()
    test = None
    if "y_test" in d:
        with torch.inference_mode():
            xt = torch.from_numpy(np.ascontiguousarray(d["X_test"], dtype=np.float32))
            test = best(xt).argmax(-1).eq(torch.from_numpy(np.asarray(d["y_test"]))).double().mean().item()
    return best, vals, test, {"loss": losses}


if __name__ == "__main__":
    import json
    import sys

    with open("hyperparams.json") as handle:
        hp = json.load(handle)
    model, val_accuracies, test_accuracy, _ = train(**hp, seed=42, data_dir=sys.argv[1])
    print("validation:", val_accuracies, "test:", test_accuracy)
