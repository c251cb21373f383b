"""Mutant: The staged (CS231n-style) chain rule, with N - 1 where the variance is differentiated."""

import torch

CHECK = "check_batchnorm_backward"
EXPECT = "bn_backward_unbiased_var"
CAUGHT_BY = "visible"


class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        mean = x.mean(0)
        var = ((x - mean) ** 2).mean(0)
        inv_std = 1.0 / torch.sqrt(var + eps)
        x_hat = (x - mean) * inv_std
        ctx.save_for_backward(x - mean, weight, inv_std)
        return x_hat * weight + bias

    @staticmethod
    def backward(ctx, dy):
        xc, weight, inv_std = ctx.saved_tensors
        n = xc.shape[0]
        x_hat = xc * inv_std
        dx_hat = dy * weight
        dvar = (dx_hat * xc).sum(0) * -0.5 * inv_std**3
        dmean = -(dx_hat * inv_std).sum(0) + dvar * (-2 * xc).mean(0)
        dx = dx_hat * inv_std + dvar * 2 * xc / (n - 1) + dmean / n
        return dx, (dy * x_hat).sum(0), dy.sum(0), None


ANSWER = BatchNormFunction
