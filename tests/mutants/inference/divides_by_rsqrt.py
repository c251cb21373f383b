"""Mutant: Divides by torch.rsqrt(running_var + eps), i.e. multiplies by the std."""
import torch

CHECK = "check_batchnorm_inference"
EXPECT = "norm_multiplies_by_std"
CAUGHT_BY = "visible"


def batchnorm_inference(x, running_mean, running_var, weight, bias, eps):
    shape = (1, -1) + (1,) * (x.dim() - 2)
    x_hat = (x - running_mean.view(shape)) / torch.rsqrt(running_var.view(shape) + eps)
    return x_hat * weight.view(shape) + bias.view(shape)


ANSWER = batchnorm_inference
