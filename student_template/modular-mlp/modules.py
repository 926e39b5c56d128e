"""Modules of the numpy MLP. Each module has forward and backward; modules with a cache also have
clear_cache. Shapes and conventions are in README.md. Use numpy only."""

import numpy as np  # noqa: F401 - you will need it


class LinearModule:
    """out = x @ W.T + b, with params['weight'] of shape (out_features, in_features) and
    params['bias'] of shape (1, out_features)."""

    def __init__(self, in_features, out_features, input_layer=False):
        # TODO: self.params = {"weight": ..., "bias": ...} initialised as README.md says (one draw of
        # np.random.normal for the weights, zeros for the bias), and self.grads with zeros of the
        # same shapes.
        raise NotImplementedError("LinearModule.__init__")

    def forward(self, x):
        # TODO: return x @ W.T + b and keep what backward needs.
        raise NotImplementedError("LinearModule.forward")

    def backward(self, dout):
        # TODO: store dL/dW and dL/db in self.grads and return dL/dx.
        raise NotImplementedError("LinearModule.backward")

    def clear_cache(self):
        # TODO: forget what forward kept.
        raise NotImplementedError("LinearModule.clear_cache")


class ELUModule:
    """elu(x) = x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        raise NotImplementedError("ELUModule.forward")

    def backward(self, dout):
        raise NotImplementedError("ELUModule.backward")

    def clear_cache(self):
        raise NotImplementedError("ELUModule.clear_cache")


class ReLUModule:
    """relu(x) = max(x, 0)."""

    def forward(self, x):
        raise NotImplementedError("ReLUModule.forward")

    def backward(self, dout):
        raise NotImplementedError("ReLUModule.backward")

    def clear_cache(self):
        raise NotImplementedError("ReLUModule.clear_cache")


class SoftMaxModule:
    """Softmax over each row, computed stably."""

    def forward(self, x):
        raise NotImplementedError("SoftMaxModule.forward")

    def backward(self, dout):
        raise NotImplementedError("SoftMaxModule.backward")

    def clear_cache(self):
        raise NotImplementedError("SoftMaxModule.clear_cache")


class CrossEntropyModule:
    """Mean over the batch of -log x[i, y[i]] for probabilities x (N, C) and integer labels y (N,)."""

    def forward(self, x, y):
        raise NotImplementedError("CrossEntropyModule.forward")

    def backward(self, x, y):
        raise NotImplementedError("CrossEntropyModule.backward")
