"""Mutant: Rescales pos by the phase's length but does not subtract the phase's start."""
from variants.schedules.solution import sched_lin, sched_cos


def combine_scheds(pcts, scheds):
    bounds = [0.0]
    for p in pcts:
        bounds.append(bounds[-1] + p)

    def _inner(pos):
        idx = min(max(i for i in range(len(scheds)) if pos >= bounds[i]), len(scheds) - 1)
        return scheds[idx](pos / pcts[idx])
    return _inner


ANSWER, CHECK = (sched_lin, sched_cos, combine_scheds), "check_schedules"
EXPECT, CAUGHT_BY = "sched_combine_not_shifted", "visible"
