"""Mutant: Keeps x on ctx as an attribute and recomputes from it: wrong if the caller changes x in
place before backward (only the hidden test does).
"""

import torch

CHECK = "check_batchnorm_backward"
EXPECT = "bn_backward_saved_input_modified"
CAUGHT_BY = "hidden"


class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        mean = x.mean(0)
        var = ((x - mean) ** 2).mean(0)
        inv_std = 1.0 / torch.sqrt(var + eps)
        x_hat = (x - mean) * inv_std
        ctx.x, ctx.weight, ctx.eps = x, weight, eps
        return x_hat * weight + bias

    @staticmethod
    def backward(ctx, dy):
        x, weight = ctx.x, ctx.weight
        mean = x.mean(0)
        inv_std = 1.0 / torch.sqrt(((x - mean) ** 2).mean(0) + ctx.eps)
        x_hat = (x - mean) * inv_std
        dx_hat = dy * weight
        dx = inv_std * (dx_hat - dx_hat.mean(0) - x_hat * (dx_hat * x_hat).mean(0))
        return dx, (dy * x_hat).sum(0), dy.sum(0), None


ANSWER = BatchNormFunction
