"""The staged chain rule of the CS231n assignment: through x_hat, the variance, then the mean."""

import torch

CHECK = "check_batchnorm_backward"


class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        mu = x.sum(0) / x.shape[0]
        xc = x - mu
        var = (xc * xc).sum(0) / x.shape[0]
        std = (var + eps).sqrt()
        x_hat = xc / std
        ctx.save_for_backward(xc, std, x_hat, weight)
        return weight * x_hat + bias

    @staticmethod
    def backward(ctx, dy):
        xc, std, x_hat, weight = ctx.saved_tensors
        N = dy.shape[0]
        dx_hat = dy * weight
        dvar = (dx_hat * xc).sum(0) * -0.5 * std**-3
        dmu = (-dx_hat / std).sum(0) + dvar * (-2.0 * xc).sum(0) / N
        dx = dx_hat / std + dvar * 2.0 * xc / N + dmu / N
        return dx, (dy * x_hat).sum(0), dy.sum(0), None


ANSWER = BatchNormFunction
