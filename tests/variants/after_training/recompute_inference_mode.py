"""Saves every layer's momentum and mode, runs under torch.inference_mode, restores each module's mode."""

import torch
from torch import nn

CHECK = "check_recompute_bn_stats"


def recompute_bn_stats(model, batches):
    modes = {m: m.training for m in model.modules()}
    saved = {}
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            saved[m] = m.momentum
            m.running_mean.zero_()
            m.running_var.fill_(1)
            m.num_batches_tracked.zero_()
            m.momentum = None
    model.train()
    with torch.inference_mode():
        for batch in batches:
            if isinstance(batch, (tuple, list)):
                batch = batch[0]
            model(batch)
    for m, momentum in saved.items():
        m.momentum = momentum
    for m, mode in modes.items():
        m.training = mode
    return model


ANSWER = recompute_bn_stats
