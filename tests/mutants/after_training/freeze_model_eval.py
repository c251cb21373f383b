"""Mutant: Puts the whole model in eval mode."""

from torch import nn

CHECK = "check_freeze_bn"
EXPECT = "after_freeze_whole_model"
CAUGHT_BY = "visible"


def freeze_bn(model, freeze_affine=False):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            if freeze_affine and m.affine:
                m.weight.requires_grad_(False)
                m.bias.requires_grad_(False)
    model.eval()
    return model


ANSWER = freeze_bn
