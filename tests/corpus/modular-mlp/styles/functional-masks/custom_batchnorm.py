"""Batch normalisation: var_mean + rsqrt; manual Function keeps intermediates on ctx; mean-form backward."""

import torch
from torch import nn


def _check(input, n_neurons):
    if input.ndim != 2:
        raise ValueError("input must be 2-D (N, n_neurons)")
    if input.size(1) != n_neurons:
        raise ValueError(f"input has {input.size(1)} features, expected {n_neurons}")


class CustomBatchNormAutograd(nn.Module):
    def __init__(self, n_neurons, eps=1e-5):
        super().__init__()
        self.n_neurons = n_neurons
        self.eps = eps
        self.register_parameter("gamma", nn.Parameter(torch.ones(n_neurons)))
        self.register_parameter("beta", nn.Parameter(torch.zeros(n_neurons)))

    def forward(self, input):
        _check(input, self.n_neurons)
        var, mean = torch.var_mean(input, dim=0, unbiased=False)
        xhat = (input - mean) * torch.rsqrt(var + self.eps)
        return torch.addcmul(self.beta, xhat, self.gamma)


class CustomBatchNormManualFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, gamma, beta, eps=1e-5):
        mean = input.mean(dim=0)
        centred = input - mean
        var = centred.pow(2).mean(dim=0)
        std = (var + eps).sqrt()
        xhat = centred / std
        ctx.xhat, ctx.std, ctx.gamma = xhat, std, gamma
        return xhat * gamma + beta

    @staticmethod
    def backward(ctx, grad_output):
        xhat, std, gamma = ctx.xhat, ctx.std, ctx.gamma
        grad_beta = grad_output.sum(dim=0)
        grad_gamma = (grad_output * xhat).sum(dim=0)
        g = grad_output * gamma
        # direct path, through the mean, through the variance
        grad_input = (g - g.mean(dim=0) - xhat * (g * xhat).mean(dim=0)) / std
        return grad_input, grad_gamma, grad_beta, None


class CustomBatchNormManualModule(nn.Module):
    def __init__(self, n_neurons, eps=1e-5):
        super().__init__()
        self.n_neurons = n_neurons
        self.eps = eps
        self.register_parameter("gamma", nn.Parameter(torch.ones(n_neurons)))
        self.register_parameter("beta", nn.Parameter(torch.zeros(n_neurons)))

    def forward(self, input):
        _check(input, self.n_neurons)
        return CustomBatchNormManualFunction.apply(input, self.gamma, self.beta, self.eps)
