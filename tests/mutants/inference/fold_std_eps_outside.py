"""Mutant: Folds with gamma / (sqrt(running_var) + eps)."""
import copy
import torch
from torch import nn


def fold_bn_into_conv(conv, bn):
    folded = copy.deepcopy(conv)
    std = bn.running_var.sqrt() + bn.eps
    scale = bn.weight.detach() / std
    b = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.mul_(scale.view(-1, *([1] * (conv.weight.dim() - 1))))
    folded.bias = nn.Parameter((b - bn.running_mean) * scale + bn.bias.detach())
    return folded


ANSWER, CHECK, EXPECT, CAUGHT_BY = fold_bn_into_conv, "check_fold_bn", "fold_eps_outside_sqrt", "visible"
