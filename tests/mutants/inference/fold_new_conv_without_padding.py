"""Mutant: Builds a fresh conv from the channel counts and kernel size only."""

import torch
from torch import nn

CHECK = "check_fold_bn"
EXPECT = "fold_drops_conv_settings"
CAUGHT_BY = "visible"


def fold_bn_into_conv(conv, bn):
    if isinstance(conv, nn.Conv2d):
        folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size)
    else:
        folded = nn.Linear(conv.in_features, conv.out_features)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shape = (-1,) + (1,) * (conv.weight.dim() - 1)
    conv_bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight = nn.Parameter(conv.weight * scale.reshape(shape))
        folded.bias = nn.Parameter((conv_bias - bn.running_mean) * scale + bn.bias)
    return folded


ANSWER = fold_bn_into_conv
