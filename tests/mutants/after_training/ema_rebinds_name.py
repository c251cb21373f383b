"""Mutant: Assigns the average to the loop variable (tp = ...), which leaves the target's parameter as it was."""
import torch

CHECK = "check_ema_update"
EXPECT = "after_ema_not_in_place"
CAUGHT_BY = "visible"


def ema_update(target, source, rate):
    with torch.no_grad():
        for tp, sp in zip(target.parameters(), source.parameters()):
            tp = (1 - rate) * tp + rate * sp
        for tb, sb in zip(target.buffers(), source.buffers()):
            tb.copy_(sb)


ANSWER = ema_update
