"""Mutant: Calls model(batch) on every batch, also when the batch is an (x, y) pair."""
import torch
from torch import nn

CHECK = "check_recompute_bn_stats"
EXPECT = "after_recompute_pairs_not_unpacked"
CAUGHT_BY = "visible"


def recompute_bn_stats(model, batches):
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in bns]
    was_training = model.training
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    with torch.no_grad():
        for batch in batches:
            model(batch)
    for bn, momentum in zip(bns, momenta):
        bn.momentum = momentum
    model.train(was_training)
    return model


ANSWER = recompute_bn_stats
