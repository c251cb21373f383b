"""Mutant: m.requires_grad_(False) whatever freeze_affine says."""
from torch import nn


def freeze_bn(model, freeze_affine=False):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            m.requires_grad_(False)
    return model


ANSWER, CHECK, EXPECT, CAUGHT_BY = freeze_bn, "check_freeze_bn", "after_freeze_affine_always", "visible"
