"""Mutant: (x_hat + bias) * weight."""
import torch


def batchnorm_inference(x, running_mean, running_var, weight, bias, eps):
    s = (1, -1) + (1,) * (x.dim() - 2)
    x_hat = (x - running_mean.view(s)) / torch.sqrt(running_var.view(s) + eps)
    return (x_hat + bias.view(s)) * weight.view(s)


ANSWER, CHECK = batchnorm_inference, "check_batchnorm_inference"
EXPECT, CAUGHT_BY = "norm_bias_before_weight", "visible"
