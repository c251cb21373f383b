"""Mutant: Shapes the per-channel vectors as (1, C, 1, 1) for every input, also for a 2-d (N, C) one."""
import torch

CHECK = "check_batchnorm_inference"
EXPECT = "bn_inference_wrong_axis"
CAUGHT_BY = "visible"


def batchnorm_inference(x, running_mean, running_var, weight, bias, eps):
    def c(t):
        return t.view(1, -1, 1, 1)
    return (x - c(running_mean)) / torch.sqrt(c(running_var) + eps) * c(weight) + c(bias)


ANSWER = batchnorm_inference
