"""Batch normalisation; the manual backward recomputes the statistics and uses needs_input_grad."""

import torch
from torch import nn


class CustomBatchNormAutograd(nn.Module):
    def __init__(self, n_neurons, eps=1e-5):
        super().__init__()
        self.n_neurons = n_neurons
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(n_neurons))
        self.beta = nn.Parameter(torch.zeros(n_neurons))

    def forward(self, input):
        if input.shape != (input.shape[0], self.n_neurons):
            raise ValueError(f"expected (N, {self.n_neurons}), got {tuple(input.shape)}")
        n = input.shape[0]
        mean = input.sum(dim=0, keepdim=True) / n
        centred = input - mean
        var = (centred * centred).sum(dim=0, keepdim=True) / n
        return self.gamma * centred * torch.rsqrt(var + self.eps) + self.beta


class CustomBatchNormManualFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, gamma, beta, eps=1e-5):
        mean = input.mean(0, keepdim=True)
        var = input.var(0, unbiased=False, keepdim=True)
        out = gamma * (input - mean) / torch.sqrt(var + eps) + beta
        ctx.save_for_backward(input, gamma)
        ctx.eps = eps
        return out

    @staticmethod
    def backward(ctx, grad_output):
        input, gamma = ctx.saved_tensors
        n = input.shape[0]
        mean = input.mean(0, keepdim=True)
        var = input.var(0, unbiased=False, keepdim=True)
        inv_std = (var + ctx.eps) ** -0.5
        xhat = (input - mean) * inv_std
        grad_input = grad_gamma = grad_beta = None
        if ctx.needs_input_grad[0]:
            g = grad_output * gamma
            grad_input = (inv_std / n) * (n * g - g.sum(0, keepdim=True) - xhat * (g * xhat).sum(0, keepdim=True))
        if ctx.needs_input_grad[1]:
            grad_gamma = (grad_output * xhat).sum(0)
        if ctx.needs_input_grad[2]:
            grad_beta = grad_output.sum(0)
        return grad_input, grad_gamma, grad_beta, None


class CustomBatchNormManualModule(nn.Module):
    def __init__(self, n_neurons, eps=1e-5):
        super().__init__()
        self.n_neurons = n_neurons
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(n_neurons))
        self.beta = nn.Parameter(torch.zeros(n_neurons))

    def forward(self, input):
        if input.shape != (input.shape[0], self.n_neurons):
            raise ValueError(f"expected (N, {self.n_neurons}), got {tuple(input.shape)}")
        return CustomBatchNormManualFunction.apply(input, self.gamma, self.beta, self.eps)
