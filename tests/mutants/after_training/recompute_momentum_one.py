"""Mutant: Sets momentum = 1.0 for the pass: only the last batch counts."""
import torch
from torch import nn


def recompute_bn_stats(model, batches):
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [bn.momentum for bn in bns]
    mode = model.training
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = 1.0
    model.train()
    with torch.no_grad():
        for b in batches:
            model(b[0] if isinstance(b, (list, tuple)) else b)
    for bn, m in zip(bns, saved):
        bn.momentum = m
    model.train(mode)
    return model


ANSWER, CHECK = recompute_bn_stats, "check_recompute_bn_stats"
EXPECT, CAUGHT_BY = "after_recompute_last_batch_only", "visible"
