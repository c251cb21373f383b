"""Mutant: Leaves the model in train mode."""

import torch
from torch import nn

CHECK = "check_recompute_bn_stats"
EXPECT = "after_recompute_mode_not_restored"
CAUGHT_BY = "visible"


def recompute_bn_stats(model, batches):
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train(True)
    with torch.no_grad():
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            model(x)
    for bn, m in zip(bns, momenta):
        bn.momentum = m
    # (the model is left in train mode)


ANSWER = recompute_bn_stats
