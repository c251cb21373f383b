"""Inference as one multiply-add: precompute scale = weight / sqrt(var + eps) and shift, then addcmul."""

import torch

CHECK = "check_batchnorm_inference"


def batchnorm_inference(x, running_mean, running_var, weight, bias, eps):
    scale = weight * torch.rsqrt(running_var + eps)
    shift = bias - running_mean * scale
    shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
    return torch.addcmul(shift.reshape(shape), x, scale.reshape(shape))


ANSWER = batchnorm_inference
