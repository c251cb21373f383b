"""Mutant: Leaves beta out of the folded bias."""
import copy
import torch
from torch import nn


def fold_bn_into_conv(conv, bn):
    folded = copy.deepcopy(conv)
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    b = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.mul_(scale.view(-1, *([1] * (conv.weight.dim() - 1))))
    folded.bias = nn.Parameter((b - bn.running_mean) * scale)
    return folded


ANSWER, CHECK, EXPECT, CAUGHT_BY = fold_bn_into_conv, "check_fold_bn", "fold_bias_not_scaled", "visible"
