"""Mutant: running_var.sqrt() + eps."""


def batchnorm_inference(x, running_mean, running_var, weight, bias, eps):
    s = (1, -1) + (1,) * (x.dim() - 2)
    return (x - running_mean.view(s)) / (running_var.view(s).sqrt() + eps) * weight.view(s) + bias.view(s)


ANSWER, CHECK = batchnorm_inference, "check_batchnorm_inference"
EXPECT, CAUGHT_BY = "bn_inference_eps_outside_sqrt", "visible"
