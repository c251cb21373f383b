"""Saves x itself (with save_for_backward) and recomputes everything in float64 in backward."""

import torch

CHECK = "check_batchnorm_backward"


class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        ctx.save_for_backward(x, weight)
        ctx.eps = eps
        x64 = x.double()
        x_hat = (x64 - x64.mean(0)) / torch.sqrt(x64.var(0, unbiased=False) + eps)
        return (x_hat * weight.double() + bias.double()).to(x.dtype)

    @staticmethod
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        x64, w64, dy64 = x.double(), weight.double(), dy.double()
        inv_std = 1 / torch.sqrt(x64.var(0, unbiased=False) + ctx.eps)
        x_hat = (x64 - x64.mean(0)) * inv_std
        g = dy64 * w64
        dx = inv_std * (g - g.mean(0) - x_hat * (g * x_hat).mean(0))
        return dx.to(x.dtype), (dy64 * x_hat).sum(0).to(weight.dtype), dy64.sum(0).to(weight.dtype), None


ANSWER = BatchNormFunction
