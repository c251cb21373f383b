"""Mutant: Folds with gamma / (sqrt(running_var) + eps)."""
import copy

import torch
from torch import nn

CHECK = "check_fold_bn"
EXPECT = "fold_eps_outside_sqrt"
CAUGHT_BY = "visible"


def fold_bn_into_conv(conv, bn):
    folded = copy.deepcopy(conv)
    scale = bn.weight.detach() / (torch.sqrt(bn.running_var) + bn.eps)
    conv_bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.view((-1,) + (1,) * (conv.weight.dim() - 1)))
    folded.bias = nn.Parameter((conv_bias - bn.running_mean) * scale + bn.bias.detach())
    return folded


ANSWER = fold_bn_into_conv
