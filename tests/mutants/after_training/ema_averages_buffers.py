"""Mutant: Averages the buffers like the parameters (timm-style), count included."""

import torch

CHECK = "check_ema_update"
EXPECT = "after_ema_averages_buffers"
CAUGHT_BY = "visible"


def ema_update(target, source, rate):
    with torch.no_grad():
        for tp, sp in zip(target.parameters(), source.parameters()):
            tp.copy_((1 - rate) * tp + rate * sp)
        for tb, sb in zip(target.buffers(), source.buffers()):
            tb.copy_(((1 - rate) * tb + rate * sb).to(tb.dtype))


ANSWER = ema_update
