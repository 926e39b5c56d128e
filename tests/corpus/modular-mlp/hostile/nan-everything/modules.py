"""Every module answers NaN of the right shape."""

import numpy as np


class _Nan:
    def __init__(self, *args, **kwargs):
        self.params = {"weight": np.full((3, 5), np.nan), "bias": np.full((1, 3), np.nan)}
        self.grads = {"weight": np.full((3, 5), np.nan), "bias": np.full((1, 3), np.nan)}

    def forward(self, x, y=None):
        return np.full(np.shape(x), np.nan) if y is None else float("nan")

    def backward(self, dout, y=None):
        return np.full(np.shape(dout), np.nan)

    def clear_cache(self):
        pass


LinearModule = ELUModule = ReLUModule = SoftMaxModule = CrossEntropyModule = _Nan
