"""Mutant: start + pos * end."""
from variants.schedules.solution import sched_cos, combine_scheds


def sched_lin(start, end):
    return lambda pos: start + pos * end


ANSWER, CHECK = (sched_lin, sched_cos, combine_scheds), "check_schedules"
EXPECT, CAUGHT_BY = "sched_lin_wrong_end", "visible"
