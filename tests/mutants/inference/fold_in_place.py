"""Mutant: Folds into the original conv in place and returns it: the unfused model is broken
afterwards.
"""

import torch
from torch import nn

CHECK = "check_fold_bn"
EXPECT = "fold_mutates_inputs"
CAUGHT_BY = "visible"


def fold_bn_into_conv(conv, bn):
    folded = conv
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shape = (-1,) + (1,) * (conv.weight.dim() - 1)
    conv_bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.mul_(scale.reshape(shape))
        folded.bias = nn.Parameter((conv_bias - bn.running_mean) * scale + bn.bias)
    return folded


ANSWER = fold_bn_into_conv
