"""Modules of the numpy MLP (np.dot style; activations cache their outputs / masks)."""

import numpy as np


class LinearModule:
    def __init__(self, in_features, out_features, input_layer=False):
        if input_layer:
            std = np.sqrt(1.0 / in_features)
        else:
            std = np.sqrt(2.0 / in_features)
        self.params = {}
        self.params["weight"] = np.random.normal(0.0, std, size=(out_features, in_features))
        self.params["bias"] = np.zeros((1, out_features))
        self.grads = {"weight": np.zeros((out_features, in_features)), "bias": np.zeros((1, out_features))}
        self.input = None

    def forward(self, x):
        self.input = x
        return np.dot(x, self.params["weight"].T) + self.params["bias"]

    def backward(self, dout):
        self.grads["weight"] = np.dot(dout.T, self.input)
        self.grads["bias"] = np.dot(np.ones((1, dout.shape[0])), dout)
        return np.dot(dout, self.params["weight"])

    def clear_cache(self):
        del self.input
        self.input = None


class ELUModule:
    def __init__(self, alpha):
        self.alpha = alpha
        self.out = None

    def forward(self, x):
        self.out = np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0.0)))
        return self.out

    def backward(self, dout):
        # alpha * exp(x) == elu(x) + alpha for x <= 0; out > 0 exactly where x > 0
        out = self.out
        return dout * np.where(out > 0, 1.0, out + self.alpha)

    def clear_cache(self):
        self.out = None


class ReLUModule:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask

    def clear_cache(self):
        self.mask = None


class SoftMaxModule:
    def __init__(self):
        self.out = None

    def forward(self, x):
        z = x - x.max(axis=1)[:, None]
        e = np.exp(z)
        self.out = e / e.sum(axis=1)[:, None]
        return self.out

    def backward(self, dout):
        dx = np.empty_like(dout, dtype=np.float64)
        for i, s in enumerate(self.out):
            jac = np.diag(s) - np.outer(s, s)
            dx[i] = np.dot(jac.T, dout[i])
        return dx

    def clear_cache(self):
        self.out = None


class CrossEntropyModule:
    def forward(self, x, y):
        n = len(y)
        total = 0.0
        for i in range(n):
            total -= np.log(x[i, y[i]])
        return total / n

    def backward(self, x, y):
        n = len(y)
        dx = np.zeros(x.shape)
        np.add.at(dx, (np.arange(n), y), -1.0 / (n * x[np.arange(n), y]))
        return dx
