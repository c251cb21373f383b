"""Mutant: Ignores freeze_affine: gamma and beta stay trainable."""

from torch import nn

CHECK = "check_freeze_bn"
EXPECT = "after_freeze_affine_trainable"
CAUGHT_BY = "visible"


def freeze_bn(model, freeze_affine=False):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            if False and m.affine:
                m.weight.requires_grad_(False)
                m.bias.requires_grad_(False)

    return model


ANSWER = freeze_bn
