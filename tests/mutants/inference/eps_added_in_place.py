"""Mutant: running_var.add_(eps): changes the caller's running_var."""


def batchnorm_inference(x, running_mean, running_var, weight, bias, eps):
    s = (1, -1) + (1,) * (x.dim() - 2)
    std = running_var.add_(eps).sqrt()
    return (x - running_mean.view(s)) / std.view(s) * weight.view(s) + bias.view(s)


ANSWER, CHECK = batchnorm_inference, "check_batchnorm_inference"
EXPECT, CAUGHT_BY = "bn_inference_modifies_inputs", "visible"
