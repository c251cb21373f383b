"""Moves channels last (broadcasting then works on the last axis) and computes in float64."""

CHECK = "check_batchnorm_inference"


def batchnorm_inference(x, running_mean, running_var, weight, bias, eps):
    z = x.movedim(1, -1).double()
    y = (z - running_mean.double()) / (running_var.double() + eps).sqrt() * weight.double() + bias.double()
    return y.movedim(-1, 1).to(x.dtype)


ANSWER = batchnorm_inference
