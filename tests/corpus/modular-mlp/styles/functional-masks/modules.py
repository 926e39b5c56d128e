"""Modules of the numpy MLP (matmul / arithmetic-mask style)."""

import numpy as np


class LinearModule:
    def __init__(self, in_features, out_features, input_layer=False):
        gain = 1.0 if input_layer else 2.0
        self.in_features, self.out_features = in_features, out_features
        self.params = {
            "weight": np.random.normal(0.0, np.sqrt(gain / in_features), size=(out_features, in_features)),
            "bias": np.zeros((1, out_features)),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self._x = x
        return np.matmul(x, self.params["weight"].T) + self.params["bias"]

    def backward(self, dout):
        self.grads["weight"] = np.matmul(dout.T, self._x)
        self.grads["bias"] = dout.sum(axis=0).reshape(1, -1)
        return np.matmul(dout, self.params["weight"])

    def clear_cache(self):
        if hasattr(self, "_x"):
            del self._x


class ELUModule:
    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        self._x = x
        pos = (x > 0).astype(x.dtype)
        return pos * x + (1.0 - pos) * self.alpha * np.expm1(np.minimum(x, 0.0))

    def backward(self, dout):
        x = self._x
        pos = (x > 0).astype(x.dtype)
        return dout * (pos + (1.0 - pos) * self.alpha * np.exp(np.minimum(x, 0.0)))

    def clear_cache(self):
        self.__dict__.pop("_x", None)


class ReLUModule:
    def forward(self, x):
        self._x = x
        return np.clip(x, 0.0, None)

    def backward(self, dout):
        return np.where(self._x > 0, dout, 0.0)

    def clear_cache(self):
        self.__dict__.pop("_x", None)


class SoftMaxModule:
    def forward(self, x):
        shifted = x - np.amax(x, axis=1, keepdims=True)
        e = np.exp(shifted)
        self._s = e / np.sum(e, axis=1, keepdims=True)
        return self._s

    def backward(self, dout):
        s = self._s
        c = s.shape[1]
        jac = s[:, :, None] * np.eye(c)[None, :, :] - s[:, :, None] * s[:, None, :]
        # jac[n, i, j] = ds_i / dx_j; dx = jac^T @ dout for each row
        return np.matmul(np.transpose(jac, (0, 2, 1)), dout[:, :, None])[:, :, 0]

    def clear_cache(self):
        self.__dict__.pop("_s", None)


class CrossEntropyModule:
    def forward(self, x, y):
        return -np.mean(np.log(np.choose(y, x.T)))

    def backward(self, x, y):
        n, c = x.shape
        mask = np.arange(c)[None, :] == np.asarray(y)[:, None]
        return np.where(mask, -1.0 / (n * x), 0.0)
