"""Mutant: Never puts the momentum back."""

import torch
from torch import nn

CHECK = "check_recompute_bn_stats"
EXPECT = "after_recompute_momentum_not_restored"
CAUGHT_BY = "visible"


def recompute_bn_stats(model, batches):
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    was_training = model.training
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train(True)
    with torch.no_grad():
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            model(x)
    # (each layer's momentum is left at None)
    model.train(was_training)


ANSWER = recompute_bn_stats
