"""Mutant: inv_std * (g - mean(g)) - x_hat * mean(g * x_hat): the factor misses the last term."""
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
        dx = inv_std * (g - g.mean(0)) - x_hat * (g * x_hat).mean(0)
        return dx, (dy * x_hat).sum(0), dy.sum(0), None


ANSWER, CHECK = BatchNormFunction, "check_batchnorm_backward"
EXPECT, CAUGHT_BY = "bn_backward_missing_inv_std", "visible"
