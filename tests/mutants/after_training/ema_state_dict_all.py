"""Mutant: Averages every floating state_dict entry, the running statistics too."""
import torch


def ema_update(target, source, rate):
    with torch.no_grad():
        for t, s in zip(target.state_dict().values(), source.state_dict().values()):
            if t.is_floating_point():
                t.copy_((1 - rate) * t + rate * s)
            else:
                t.copy_(s)


ANSWER, CHECK, EXPECT, CAUGHT_BY = ema_update, "check_ema_update", "after_ema_averages_buffers", "visible"
