from variants.schedules.solution import sched_lin, sched_cos


def combine_scheds(pcts, scheds):
    bounds = [sum(pcts[:i]) for i in range(len(pcts) + 1)]

    def _inner(pos):
        idx = min(max(i for i in range(len(scheds)) if pos >= bounds[i]), len(scheds) - 1)
        return scheds[idx](pos)  # the global pos, not the phase's own
    return _inner


ANSWER, CHECK = (sched_lin, sched_cos, combine_scheds), "check_schedules"
EXPECT, CAUGHT_BY = "sched_combine_not_rescaled", "visible"
