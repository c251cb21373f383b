"""Mutant: rate * target + (1 - rate) * source."""
import torch


def ema_update(target, source, rate):
    with torch.no_grad():
        for tp, sp in zip(target.parameters(), source.parameters()):
            tp.copy_(rate * tp + (1 - rate) * sp)
        for tb, sb in zip(target.buffers(), source.buffers()):
            tb.copy_(sb)


ANSWER, CHECK, EXPECT, CAUGHT_BY = ema_update, "check_ema_update", "after_ema_rate_reversed", "visible"
