"""Mutant: Uses the (C,) tensors as they are: right for (N, C), but for (N, C, H, W) they line up with
W.
"""

import torch

CHECK = "check_batchnorm_inference"
EXPECT = "bn_inference_wrong_axis"
CAUGHT_BY = "visible"


def batchnorm_inference(x, running_mean, running_var, weight, bias, eps):
    x_hat = (x - running_mean) / torch.sqrt(running_var + eps)
    return x_hat * weight + bias


ANSWER = batchnorm_inference
