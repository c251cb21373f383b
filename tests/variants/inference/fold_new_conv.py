"""Builds a new Conv2d / Linear with every setting copied, and fills it with the folded tensors."""

import torch
from torch import nn

CHECK = "check_fold_bn"


def fold_bn_into_conv(conv, bn):
    std = (bn.running_var + bn.eps).sqrt()
    scale = bn.weight / std
    if isinstance(conv, nn.Conv2d):
        new = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                        padding=conv.padding, dilation=conv.dilation, groups=conv.groups, bias=True,
                        padding_mode=conv.padding_mode, device=conv.weight.device, dtype=conv.weight.dtype)
        weight = conv.weight * scale[:, None, None, None]
    else:
        new = nn.Linear(conv.in_features, conv.out_features, bias=True, device=conv.weight.device,
                        dtype=conv.weight.dtype)
        weight = conv.weight * scale[:, None]
    bias = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    with torch.no_grad():
        new.weight.copy_(weight)
        new.bias.copy_(bias)
    return new.eval()


ANSWER = fold_bn_into_conv
