"""Mutant: batchnorm_inference as F.batch_norm(training=False) -- the very reference (exact, but not by hand)."""

import torch.nn.functional as F

CHECK = "check_batchnorm_inference"
EXPECT = "bn_inference_delegates_to_torch"
CAUGHT_BY = "visible"


def batchnorm_inference(x, running_mean, running_var, weight, bias, eps):
    return F.batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=eps)


ANSWER = batchnorm_inference
