"""Mutant: Swaps weight and bias."""

import torch

CHECK = "check_batchnorm_inference"
EXPECT = "bn_inference_weight_bias_swapped"
CAUGHT_BY = "visible"


def batchnorm_inference(x, running_mean, running_var, weight, bias, eps):
    shape = (1, -1) + (1,) * (x.dim() - 2)
    x_hat = (x - running_mean.view(shape)) / torch.sqrt(running_var.view(shape) + eps)
    return x_hat * bias.view(shape) + weight.view(shape)


ANSWER = batchnorm_inference
