"""Mutant: Looks only at the model's direct children: a BN layer nested in a submodule is missed."""

from torch import nn

CHECK = "check_freeze_bn"
EXPECT = "after_freeze_updates_stats"
CAUGHT_BY = "visible"


def freeze_bn(model, freeze_affine=False):
    for m in model.children():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            if freeze_affine and m.affine:
                m.weight.requires_grad_(False)
                m.bias.requires_grad_(False)

    return model


ANSWER = freeze_bn
