"""Deep-copies the layer and computes the folded tensors in float64 before casting back."""

import copy

import torch
from torch import nn

CHECK = "check_fold_bn"


@torch.no_grad()
def fold_bn_into_conv(conv, bn):
    fused = copy.deepcopy(conv)
    w = conv.weight.double()
    b = conv.bias.double() if conv.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64,
                                                                      device=w.device)
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    fused.weight = nn.Parameter((w * scale.view(-1, *([1] * (w.dim() - 1)))).to(conv.weight.dtype))
    bias = (b - bn.running_mean.double()) * scale + bn.bias.double()
    fused.bias = nn.Parameter(bias.to(conv.weight.dtype))
    return fused


ANSWER = fold_bn_into_conv
