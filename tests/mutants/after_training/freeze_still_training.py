"""Mutant: Only freezes gamma and beta: the layers stay in train mode and their statistics move."""

from torch import nn

CHECK = "check_freeze_bn"
EXPECT = "after_freeze_updates_stats"
CAUGHT_BY = "visible"


def freeze_bn(model, freeze_affine=False):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            # (no m.eval(): the layer stays in train mode)
            if freeze_affine and m.affine:
                m.weight.requires_grad_(False)
                m.bias.requires_grad_(False)

    return model


ANSWER = freeze_bn
