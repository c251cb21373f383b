"""Mutant: tp.lerp_(sp, 1 - rate): the lerp weight the wrong way round."""
import torch

CHECK = "check_ema_update"
EXPECT = "after_ema_rate_reversed"
CAUGHT_BY = "visible"


def ema_update(target, source, rate):
    with torch.no_grad():
        for tp, sp in zip(target.parameters(), source.parameters()):
            tp.lerp_(sp, 1 - rate)
        for tb, sb in zip(target.buffers(), source.buffers()):
            tb.copy_(sb)


ANSWER = ema_update
