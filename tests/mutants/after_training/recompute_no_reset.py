"""Mutant: Sets momentum=None but does not reset the running statistics first."""

import torch
from torch import nn

CHECK = "check_recompute_bn_stats"
EXPECT = "after_recompute_no_reset"
CAUGHT_BY = "visible"


def recompute_bn_stats(model, batches):
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in bns]
    was_training = model.training
    for bn in bns:
        # (no reset_running_stats(): the old statistics stay in the average)
        bn.momentum = None
    model.train(True)
    with torch.no_grad():
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            model(x)
    for bn, m in zip(bns, momenta):
        bn.momentum = m
    model.train(was_training)


ANSWER = recompute_bn_stats
