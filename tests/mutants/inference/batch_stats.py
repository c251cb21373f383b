"""Mutant: Ignores the running statistics and normalizes with the batch's own."""

import torch

CHECK = "check_batchnorm_inference"
EXPECT = "bn_inference_batch_stats"
CAUGHT_BY = "visible"


def batchnorm_inference(x, running_mean, running_var, weight, bias, eps):
    shape = (1, -1) + (1,) * (x.dim() - 2)
    dims = [0] + list(range(2, x.dim()))
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, unbiased=False)
    x_hat = (x - mean) / torch.sqrt(var + eps)
    return x_hat * weight.view(shape) + bias.view(shape)


ANSWER = batchnorm_inference
