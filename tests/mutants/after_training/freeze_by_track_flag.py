"""Mutant: Sets track_running_stats = False instead of calling eval()."""
from torch import nn


def freeze_bn(model, freeze_affine=False):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.track_running_stats = False
            if freeze_affine:
                m.weight.requires_grad_(False)
                m.bias.requires_grad_(False)
    return model


ANSWER, CHECK, EXPECT, CAUGHT_BY = freeze_bn, "check_freeze_bn", "after_freeze_updates_stats", "visible"
