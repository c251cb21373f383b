"""Mutant: a hand-written forward whose backward calls torch's batch-norm backward kernel
(torch.ops.aten.native_batch_norm_backward) instead of the formulas (exact, but not by hand)."""

import torch

CHECK = "check_batchnorm_backward"
EXPECT = "bn_backward_delegates_to_torch"
CAUGHT_BY = "visible"


class BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        var, mean = torch.var_mean(x, dim=0, unbiased=False)
        inv_std = torch.rsqrt(var + eps)
        ctx.save_for_backward(x, weight, mean, inv_std)
        ctx.eps = eps
        return (x - mean) * inv_std * weight + bias

    @staticmethod
    def backward(ctx, dy):
        x, weight, mean, inv_std = ctx.saved_tensors
        dx, dw, db = torch.ops.aten.native_batch_norm_backward(
            dy, x, weight, None, None, mean, inv_std, True, ctx.eps, [True, True, True])
        return dx, dw, db, None


ANSWER = BatchNormFunction
