"""The numpy modules, written like the handout's equations (float64 throughout).

Shapes: a batch ``x`` is ``(N, D)``; ``LinearModule`` holds ``params['weight']`` ``(out, in)`` and
``params['bias']`` ``(1, out)`` and computes ``x @ W.T + b``. ``backward(dout)`` stores the parameter
gradients in ``grads`` and returns ``dL/dx``.
"""

from __future__ import annotations

import numpy as np


def kaiming_std(in_features: int, input_layer: bool) -> float:
    """Standard deviation of the initial weights: sqrt(2/in) after an ELU/ReLU, sqrt(1/in) on the data."""
    return float(np.sqrt((1.0 if input_layer else 2.0) / in_features))


class LinearModule:
    """``out = x W^T + b``; weights drawn from numpy's global generator, biases zero."""

    def __init__(self, in_features: int, out_features: int, input_layer: bool = False) -> None:
        std = kaiming_std(in_features, input_layer)
        self.params = {
            "weight": np.random.normal(0.0, std, size=(out_features, in_features)),
            "bias": np.zeros((1, out_features)),
        }
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.params["weight"].T + self.params["bias"]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self.grads["weight"] = dout.T @ self.x
        self.grads["bias"] = dout.sum(axis=0, keepdims=True)
        return dout @ self.params["weight"]

    def clear_cache(self) -> None:
        self.x = None


class ELUModule:
    """``elu(x) = x`` for ``x > 0``, ``alpha (exp(x) - 1)`` otherwise; derivative taken at the input."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x = self.x
        return dout * np.where(x > 0, 1.0, self.alpha * np.exp(np.minimum(x, 0)))

    def clear_cache(self) -> None:
        self.x = None


class ReLUModule:
    """``relu(x) = max(x, 0)``; derivative 1 for ``x > 0`` and 0 otherwise (also at 0)."""

    def __init__(self) -> None:
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (self.x > 0)

    def clear_cache(self) -> None:
        self.x = None


class SoftMaxModule:
    """Row-wise softmax with the max shift; backward applies the full Jacobian ``diag(y) - y y^T``."""

    def __init__(self) -> None:
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(axis=1, keepdims=True))
        self.out = e / e.sum(axis=1, keepdims=True)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        y = self.out
        return y * (dout - (dout * y).sum(axis=1, keepdims=True))

    def clear_cache(self) -> None:
        self.out = None


class CrossEntropyModule:
    """Mean over the batch of ``-log x[i, y_i]`` for probabilities ``x`` and integer labels ``y``."""

    def forward(self, x: np.ndarray, y: np.ndarray) -> float:
        n = x.shape[0]
        return float(-np.log(x[np.arange(n), y]).mean())

    def backward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        dx = np.zeros_like(x)
        dx[np.arange(n), y] = -1.0 / x[np.arange(n), y]
        return dx / n
