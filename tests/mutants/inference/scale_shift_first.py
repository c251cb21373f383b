"""Mutant: Applies weight and bias to x first, then normalizes the result."""
import torch

CHECK = "check_batchnorm_inference"
EXPECT = "bn_affine_before_normalize"
CAUGHT_BY = "visible"


def batchnorm_inference(x, running_mean, running_var, weight, bias, eps):
    shape = (1, -1) + (1,) * (x.dim() - 2)
    y = x * weight.view(shape) + bias.view(shape)
    return (y - running_mean.view(shape)) / torch.sqrt(running_var.view(shape) + eps)


ANSWER = batchnorm_inference
