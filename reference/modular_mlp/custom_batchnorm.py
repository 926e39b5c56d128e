"""Batch normalisation over the batch dimension of ``(N, D)`` inputs, per feature, biased variance.

``y = gamma * (x - mean) / sqrt(var + eps) + beta`` with ``mean`` and ``var`` (divided by N) over
the batch, eps inside the square root. The hand-written backward, with ``xhat`` the normalised
input and ``g = dL/dy * gamma``::

    dL/dx     = (1 / (N sqrt(var + eps))) * (N g - sum_batch(g) - xhat * sum_batch(g * xhat))
    dL/dgamma = sum_batch(dL/dy * xhat)
    dL/dbeta  = sum_batch(dL/dy)
"""

from __future__ import annotations

import torch
from torch import nn

DEFAULT_EPS = 1e-5


def _check_input(x: torch.Tensor, n_neurons: int) -> None:
    if x.dim() != 2 or x.shape[1] != n_neurons:
        raise ValueError(f"expected input of shape (N, {n_neurons}), got {tuple(x.shape)}")


class CustomBatchNormAutograd(nn.Module):
    """Forward only; autograd differentiates it."""

    def __init__(self, n_neurons: int, eps: float = DEFAULT_EPS) -> None:
        super().__init__()
        self.n_neurons = n_neurons
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(n_neurons))
        self.beta = nn.Parameter(torch.zeros(n_neurons))

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - the handout's name
        _check_input(input, self.n_neurons)
        mean = input.mean(dim=0)
        var = input.var(dim=0, unbiased=False)
        return self.gamma * (input - mean) / torch.sqrt(var + self.eps) + self.beta


class CustomBatchNormManualFunction(torch.autograd.Function):
    """Forward and a hand-written backward."""

    @staticmethod
    def forward(ctx, input, gamma, beta, eps=DEFAULT_EPS):  # noqa: A002, ANN001, ANN205
        mean = input.mean(dim=0)
        var = input.var(dim=0, unbiased=False)
        inv_std = 1.0 / torch.sqrt(var + eps)
        xhat = (input - mean) * inv_std
        ctx.save_for_backward(xhat, gamma, inv_std)
        return gamma * xhat + beta

    @staticmethod
    def backward(ctx, grad_output):  # noqa: ANN001, ANN205
        xhat, gamma, inv_std = ctx.saved_tensors
        n = grad_output.shape[0]
        g = grad_output * gamma
        grad_input = grad_gamma = grad_beta = None
        if ctx.needs_input_grad[0]:
            grad_input = inv_std / n * (n * g - g.sum(dim=0) - xhat * (g * xhat).sum(dim=0))
        if ctx.needs_input_grad[1]:
            grad_gamma = (grad_output * xhat).sum(dim=0)
        if ctx.needs_input_grad[2]:
            grad_beta = grad_output.sum(dim=0)
        return grad_input, grad_gamma, grad_beta, None


class CustomBatchNormManualModule(nn.Module):
    """The module around :class:`CustomBatchNormManualFunction` (gamma ones, beta zeros)."""

    def __init__(self, n_neurons: int, eps: float = DEFAULT_EPS) -> None:
        super().__init__()
        self.n_neurons = n_neurons
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(n_neurons))
        self.beta = nn.Parameter(torch.zeros(n_neurons))

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - the handout's name
        _check_input(input, self.n_neurons)
        return CustomBatchNormManualFunction.apply(input, self.gamma, self.beta, self.eps)
