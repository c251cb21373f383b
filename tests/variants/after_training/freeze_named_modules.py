"""Finds BN layers by type in named_modules and freezes gamma/beta through named_parameters."""

from torch import nn

CHECK = "check_freeze_bn"


def freeze_bn(model, freeze_affine=False):
    for _, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.train(False)
            if freeze_affine:
                for _, p in module.named_parameters(recurse=False):
                    p.requires_grad = False


ANSWER = freeze_bn
