"""Mutant: Forgets that the variance depends on x."""

import torch

CHECK = "check_batchnorm_backward"
EXPECT = "bn_backward_missing_xhat_term"
CAUGHT_BY = "visible"


class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        mean = x.mean(0)
        var = ((x - mean) ** 2).mean(0)
        inv_std = 1.0 / torch.sqrt(var + eps)
        x_hat = (x - mean) * inv_std
        ctx.save_for_backward(x_hat, weight, inv_std)
        return x_hat * weight + bias

    @staticmethod
    def backward(ctx, dy):
        x_hat, weight, inv_std = ctx.saved_tensors
        dx_hat = dy * weight
        dx = inv_std * (dx_hat - dx_hat.mean(0))
        return dx, (dy * x_hat).sum(0), dy.sum(0), None


ANSWER = BatchNormFunction
