"""The compact backward from the sums: dx = inv_std / N * (N * g - sum(g) - x_hat * sum(g * x_hat))."""

import torch

CHECK = "check_batchnorm_backward"


class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        var, mean = torch.var_mean(x, dim=0, unbiased=False)
        inv_std = torch.rsqrt(var + eps)
        x_hat = (x - mean) * inv_std
        ctx.save_for_backward(x_hat, inv_std, weight)
        return torch.addcmul(bias, x_hat, weight)

    @staticmethod
    def backward(ctx, dy):
        x_hat, inv_std, weight = ctx.saved_tensors
        N = dy.shape[0]
        g = dy * weight
        dx = inv_std / N * (N * g - g.sum(0) - x_hat * (g * x_hat).sum(0))
        return dx, (dy * x_hat).sum(0), dy.sum(0), None


ANSWER = BatchNormFunction
