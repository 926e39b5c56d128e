"""Batch normalisation: through autograd, and with a hand-written backward."""

import torch
from torch import nn


class CustomBatchNormAutograd(nn.Module):
    def __init__(self, n_neurons, eps=1e-3):
        super().__init__()
        self.n_neurons = n_neurons
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(n_neurons))
        self.beta = nn.Parameter(torch.zeros(n_neurons))

    def forward(self, input):
        if input.dim() != 2 or input.shape[1] != self.n_neurons:
            raise ValueError("input must have shape (N, n_neurons)")
        mean = input.mean(dim=0)
        var = ((input - mean) ** 2).mean(dim=0)
        return self.gamma * (input - mean) / torch.sqrt(var + self.eps) + self.beta


class CustomBatchNormManualFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, gamma, beta, eps=1e-5):
        mean = input.mean(dim=0)
        var = ((input - mean) ** 2).mean(dim=0)
        inv_std = 1.0 / torch.sqrt(var + eps)
        xhat = (input - mean) * inv_std
        ctx.save_for_backward(xhat, gamma, inv_std)
        return gamma * xhat + beta

    @staticmethod
    def backward(ctx, grad_output):
        xhat, gamma, inv_std = ctx.saved_tensors
        n = grad_output.shape[0]
        dxhat = grad_output * gamma
        grad_input = inv_std / n * (n * dxhat - dxhat.sum(dim=0) - xhat * (dxhat * xhat).sum(dim=0))
        grad_gamma = (grad_output * xhat).sum(dim=0)
        grad_beta = grad_output.sum(dim=0)
        return grad_input, grad_gamma, grad_beta, None


class CustomBatchNormManualModule(nn.Module):
    def __init__(self, n_neurons, eps=1e-5):
        super().__init__()
        self.n_neurons = n_neurons
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(n_neurons))
        self.beta = nn.Parameter(torch.zeros(n_neurons))

    def forward(self, input):
        if input.dim() != 2 or input.shape[1] != self.n_neurons:
            raise ValueError("input must have shape (N, n_neurons)")
        return CustomBatchNormManualFunction.apply(input, self.gamma, self.beta, self.eps)
