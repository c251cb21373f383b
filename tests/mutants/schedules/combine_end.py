"""fastai course-v3's combine_scheds: IndexError at pos = 1."""
import torch
from variants.schedules.solution import sched_lin, sched_cos


def combine_scheds(pcts, scheds):
    pcts = torch.cumsum(torch.tensor([0.0] + list(pcts)), 0)

    def _inner(pos):
        idx = (pos >= pcts).nonzero().max()
        actual_pos = (pos - pcts[idx]) / (pcts[idx + 1] - pcts[idx])
        return scheds[idx](actual_pos)
    return _inner


ANSWER, CHECK = (sched_lin, sched_cos, combine_scheds), "check_schedules"
EXPECT, CAUGHT_BY = "sched_combine_end", "visible"
