# ruff: noqa: E402, F401 - hostile test data: the attack runs before the handout's imports
import glob
import sys

# Put any copy of the grader's reference on the path and take its solution.
ROOTS = ["/work", "/tmp", "/data", "/sub", "/opt", "/srv", "/home", "/root", "/app", *sys.path]
for root in ROOTS:
    for found in glob.glob(root + "/**/reference/modular_mlp/custom_batchnorm.py", recursive=True)[:1]:
        sys.path.insert(0, found.rsplit("/reference/", 1)[0])
try:
    from reference.modular_mlp.custom_batchnorm import *  # noqa: F403

    STOLEN = True
except ImportError:
    STOLEN = False
"""Batch normalisation over the batch of (N, n_neurons) inputs: through autograd, and with a
hand-written backward (README.md)."""

import torch
from torch import nn


class CustomBatchNormAutograd(nn.Module):
    def __init__(self, n_neurons, eps=1e-5):
        super().__init__()
        # TODO: keep n_neurons and eps; self.gamma (ones) and self.beta (zeros) as nn.Parameter,
        # gamma registered first.
        raise NotImplementedError("CustomBatchNormAutograd.__init__")

    def forward(self, input):
        # TODO: check the shape, then normalise each feature with the batch mean and biased variance.
        raise NotImplementedError("CustomBatchNormAutograd.forward")


class CustomBatchNormManualFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, gamma, beta, eps=1e-5):
        # TODO: the same computation; save what backward needs with ctx.save_for_backward.
        raise NotImplementedError("CustomBatchNormManualFunction.forward")

    @staticmethod
    def backward(ctx, grad_output):
        # TODO: return grad_input, grad_gamma, grad_beta, None (no gradient for eps), written out by
        # hand: no autograd inside.
        raise NotImplementedError("CustomBatchNormManualFunction.backward")


class CustomBatchNormManualModule(nn.Module):
    def __init__(self, n_neurons, eps=1e-5):
        super().__init__()
        # TODO: as CustomBatchNormAutograd.__init__
        raise NotImplementedError("CustomBatchNormManualModule.__init__")

    def forward(self, input):
        # TODO: check the shape, then CustomBatchNormManualFunction.apply(input, self.gamma, self.beta, self.eps)
        raise NotImplementedError("CustomBatchNormManualModule.forward")


if STOLEN:
    from reference.modular_mlp.custom_batchnorm import *  # noqa: F403, F811
