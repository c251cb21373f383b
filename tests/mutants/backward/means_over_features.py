"""Mutant: Averages over dim 1 (the features of each sample) in the dx formula."""
import torch

CHECK = "check_batchnorm_backward"
EXPECT = "bn_backward_mean_wrong_axis"
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
        dx = inv_std * (dx_hat - dx_hat.mean(1, keepdim=True) - x_hat * (dx_hat * x_hat).mean(1, keepdim=True))
        return dx, (dy * x_hat).sum(0), dy.sum(0), None


ANSWER = BatchNormFunction
