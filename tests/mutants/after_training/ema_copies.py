"""Mutant: Copies the source's parameters."""

import torch

CHECK = "check_ema_update"
EXPECT = "after_ema_copies"
CAUGHT_BY = "visible"


def ema_update(target, source, rate):
    with torch.no_grad():
        for tp, sp in zip(target.parameters(), source.parameters()):
            tp.copy_(sp)
        for tb, sb in zip(target.buffers(), source.buffers()):
            tb.copy_(sb)


ANSWER = ema_update
