"""Mutant: Recomputes the statistics in backward with x.var(0), the unbiased variance."""
import torch


class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        mean = x.mean(0)
        var = x.var(0, unbiased=False)
        inv_std = 1 / torch.sqrt(var + eps)
        x_hat = (x - mean) * inv_std
        ctx.save_for_backward(x, x_hat, weight, inv_std)
        return x_hat * weight + bias

    @staticmethod
    def backward(ctx, dy):
        x, x_hat, weight, inv_std = ctx.saved_tensors
        g = dy * weight
        var = x.var(0)
        inv = 1 / torch.sqrt(var + 1e-5)
        xh = (x - x.mean(0)) * inv
        dx = inv * (g - g.mean(0) - xh * (g * xh).mean(0))
        return dx, (dy * x_hat).sum(0), dy.sum(0), None


ANSWER, CHECK, EXPECT, CAUGHT_BY = BatchNormFunction, "check_batchnorm_backward", "bn_backward_unbiased_var", "visible"
