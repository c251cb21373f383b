"""Mutant: The seed's update_target: parameters only, BN buffers left behind."""

import torch

CHECK = "check_ema_update"
EXPECT = "after_ema_no_buffers"
CAUGHT_BY = "visible"


def ema_update(target, source, rate):
    with torch.no_grad():
        for tp, sp in zip(target.parameters(), source.parameters()):
            tp.copy_((1 - rate) * tp + rate * sp)
        # the buffers (running_mean, running_var, num_batches_tracked) are never touched


ANSWER = ema_update
