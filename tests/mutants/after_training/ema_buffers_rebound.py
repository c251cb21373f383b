"""Mutant: tb = sb.clone(): rebinds the loop variable, the buffers stay as they were."""
import torch


def ema_update(target, source, rate):
    with torch.no_grad():
        for tp, sp in zip(target.parameters(), source.parameters()):
            tp.mul_(1 - rate).add_(rate * sp)
        for tb, sb in zip(target.buffers(), source.buffers()):
            tb = sb.clone()  # noqa: F841 - the mistake: rebinds the loop variable


ANSWER, CHECK, EXPECT, CAUGHT_BY = ema_update, "check_ema_update", "after_ema_no_buffers", "visible"
