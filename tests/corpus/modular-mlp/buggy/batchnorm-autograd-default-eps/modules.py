"""Modules of the numpy MLP: each has forward and backward (and clear_cache)."""

import numpy as np


class LinearModule:
    def __init__(self, in_features, out_features, input_layer=False):
        std = np.sqrt(1.0 / in_features) if input_layer else np.sqrt(2.0 / in_features)
        self.params = {
            "weight": np.random.normal(0.0, std, size=(out_features, in_features)),
            "bias": np.zeros((1, out_features)),
        }
        self.grads = {"weight": np.zeros((out_features, in_features)), "bias": np.zeros((1, out_features))}
        self.x = None

    def forward(self, x):
        self.x = x
        return x @ self.params["weight"].T + self.params["bias"]

    def backward(self, dout):
        self.grads["weight"] = dout.T @ self.x
        self.grads["bias"] = np.sum(dout, axis=0, keepdims=True)
        return dout @ self.params["weight"]

    def clear_cache(self):
        self.x = None


class ELUModule:
    def __init__(self, alpha):
        self.alpha = alpha
        self.x = None

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.alpha * (np.exp(np.minimum(x, 0)) - 1))

    def backward(self, dout):
        return dout * np.where(self.x > 0, 1.0, self.alpha * np.exp(np.minimum(self.x, 0)))

    def clear_cache(self):
        self.x = None


class ReLUModule:
    def __init__(self):
        self.x = None

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout * (self.x > 0)

    def clear_cache(self):
        self.x = None


class SoftMaxModule:
    def __init__(self):
        self.out = None

    def forward(self, x):
        e = np.exp(x - np.max(x, axis=1, keepdims=True))
        self.out = e / np.sum(e, axis=1, keepdims=True)
        return self.out

    def backward(self, dout):
        y = self.out
        return y * (dout - np.sum(dout * y, axis=1, keepdims=True))

    def clear_cache(self):
        self.out = None


class CrossEntropyModule:
    def forward(self, x, y):
        n = x.shape[0]
        return -np.mean(np.log(x[np.arange(n), y]))

    def backward(self, x, y):
        n = x.shape[0]
        dx = np.zeros_like(x)
        dx[np.arange(n), y] = -1.0 / x[np.arange(n), y]
        return dx / n
