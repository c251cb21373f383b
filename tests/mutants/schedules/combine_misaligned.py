import torch
from variants.schedules.solution import sched_lin, sched_cos


def combine_scheds(pcts, scheds):
    bounds = torch.cumsum(torch.tensor(list(pcts)), 0).tolist()  # no leading 0: boundaries shifted by one phase

    def _inner(pos):
        idx = min(sum(pos >= b for b in bounds), len(scheds) - 1)
        lo = bounds[idx - 1] if idx else 0.0
        return scheds[idx]((pos - lo) / (bounds[idx] - lo))
    return _inner


ANSWER, CHECK = (sched_lin, sched_cos, combine_scheds), "check_schedules"
EXPECT, CAUGHT_BY = "sched_combine_misaligned", "visible"
