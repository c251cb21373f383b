"""Mutant: Adds the conv's bias to the folded bias as it is, without scaling it."""
import copy

import torch
from torch import nn

CHECK = "check_fold_bn"
EXPECT = "fold_bias_not_scaled"
CAUGHT_BY = "visible"


def fold_bn_into_conv(conv, bn):
    folded = copy.deepcopy(conv)
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.view((-1,) + (1,) * (conv.weight.dim() - 1)))
        bias = bn.bias.detach() - bn.running_mean * scale
        if conv.bias is not None:
            bias = bias + conv.bias.detach()
    folded.bias = nn.Parameter(bias.clone())
    return folded


ANSWER = fold_bn_into_conv
