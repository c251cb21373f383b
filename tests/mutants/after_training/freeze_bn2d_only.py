"""Mutant: Looks for nn.BatchNorm2d only, so the BatchNorm1d layers of an MLP keep training their statistics."""
from torch import nn

CHECK = "check_freeze_bn"
EXPECT = "after_freeze_updates_stats"
CAUGHT_BY = "visible"


def freeze_bn(model, freeze_affine=False):
    for layer in model.modules():
        if isinstance(layer, nn.BatchNorm2d):
            layer.eval()
            if freeze_affine:
                layer.weight.requires_grad_(False)
                layer.bias.requires_grad_(False)
    return model


ANSWER = freeze_bn
