"""Mutant: Scales the weight along the input channels (dim 1) instead of the output channels."""

import copy

import torch
from torch import nn

CHECK = "check_fold_bn"
EXPECT = "fold_scale_wrong_axis"
CAUGHT_BY = "visible"


def fold_bn_into_conv(conv, bn):
    folded = copy.deepcopy(conv)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shape = (1, -1) + (1,) * (conv.weight.dim() - 2)
    conv_bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight = nn.Parameter(conv.weight * scale.reshape(shape))
        folded.bias = nn.Parameter((conv_bias - bn.running_mean) * scale + bn.bias)
    return folded


ANSWER = fold_bn_into_conv
