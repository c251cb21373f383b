"""Mutant: Picks the phase by comparing pos with the pcts themselves, not their cumulative sums."""
from variants.schedules.solution import sched_lin, sched_cos


def combine_scheds(pcts, scheds):
    def _inner(pos):
        idx = max(i for i in range(len(pcts)) if pos >= pcts[i]) if any(pos >= p for p in pcts) else 0
        start = sum(pcts[:idx])
        return scheds[idx]((pos - start) / pcts[idx])
    return _inner


ANSWER, CHECK = (sched_lin, sched_cos, combine_scheds), "check_schedules"
EXPECT, CAUGHT_BY = "sched_combine_misaligned", "visible"
