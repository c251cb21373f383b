"""Mutant: Resets but keeps each layer's momentum: an EMA of the batches, not their average."""

import torch
from torch import nn

CHECK = "check_recompute_bn_stats"
EXPECT = "after_recompute_keeps_momentum"
CAUGHT_BY = "visible"


def recompute_bn_stats(model, batches):
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in bns]
    was_training = model.training
    for bn in bns:
        bn.reset_running_stats()
        # (momentum left as it is)
    model.train(True)
    with torch.no_grad():
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            model(x)
    for bn, m in zip(bns, momenta):
        bn.momentum = m
    model.train(was_training)


ANSWER = recompute_bn_stats
