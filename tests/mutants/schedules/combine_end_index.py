"""Mutant: No clamp of the phase index: pos = 1 looks for a phase after the last."""
from variants.schedules.solution import sched_lin, sched_cos


def combine_scheds(pcts, scheds):
    bounds = [0.0]
    for p in pcts:
        bounds.append(bounds[-1] + p)

    def _inner(pos):
        idx = max(i for i in range(len(bounds)) if pos >= bounds[i])
        return scheds[idx]((pos - bounds[idx]) / (bounds[idx + 1] - bounds[idx]))
    return _inner


ANSWER, CHECK = (sched_lin, sched_cos, combine_scheds), "check_schedules"
EXPECT, CAUGHT_BY = "sched_combine_end", "visible"
