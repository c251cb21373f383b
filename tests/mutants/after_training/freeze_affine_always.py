"""Mutant: Always freezes gamma and beta."""

from torch import nn

CHECK = "check_freeze_bn"
EXPECT = "after_freeze_affine_always"
CAUGHT_BY = "visible"


def freeze_bn(model, freeze_affine=False):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            if True and m.affine:
                m.weight.requires_grad_(False)
                m.bias.requires_grad_(False)

    return model


ANSWER = freeze_bn
