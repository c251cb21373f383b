"""Mutant: Keeps rate of the target and takes 1 - rate of the source."""

import torch

CHECK = "check_ema_update"
EXPECT = "after_ema_rate_reversed"
CAUGHT_BY = "visible"


def ema_update(target, source, rate):
    with torch.no_grad():
        for tp, sp in zip(target.parameters(), source.parameters()):
            tp.copy_(rate * tp + (1 - rate) * sp)
        for tb, sb in zip(target.buffers(), source.buffers()):
            tb.copy_(sb)


ANSWER = ema_update
