"""Mutant: Forgets the overall 1 / sqrt(var + eps) factor of dx."""
import torch

CHECK = "check_batchnorm_backward"
EXPECT = "bn_backward_missing_inv_std"
CAUGHT_BY = "visible"


class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        mean = x.mean(0)
        var = x.var(0, unbiased=False)
        inv_std = 1 / torch.sqrt(var + eps)
        x_hat = (x - mean) * inv_std
        ctx.save_for_backward(x_hat, weight, inv_std)
        return x_hat * weight + bias

    @staticmethod
    def backward(ctx, dy):
        x_hat, weight, inv_std = ctx.saved_tensors
        dx_hat = dy * weight
        dx = dx_hat - dx_hat.mean(0) - x_hat * (dx_hat * x_hat).mean(0)
        return dx, (dy * x_hat).sum(0), dy.sum(0), None


ANSWER = BatchNormFunction
