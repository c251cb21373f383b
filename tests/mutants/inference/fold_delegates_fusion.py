"""Mutant: fold_bn_into_conv as torch.nn.utils.fusion's fuse_conv_bn_eval / fuse_linear_bn_eval -- the very
reference (exact, but not by hand)."""

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

CHECK = "check_fold_bn"
EXPECT = "fold_delegates_to_torch"
CAUGHT_BY = "visible"


def fold_bn_into_conv(conv, bn):
    return (fuse_conv_bn_eval if isinstance(conv, nn.Conv2d) else fuse_linear_bn_eval)(conv, bn)


ANSWER = fold_bn_into_conv
