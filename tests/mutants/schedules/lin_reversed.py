"""Mutant: sched_lin starts at end and goes to start (the lerp the wrong way round)."""
from variants.schedules.solution import sched_cos, combine_scheds


def sched_lin(start, end):
    return lambda pos: end + pos * (start - end)


ANSWER, CHECK = (sched_lin, sched_cos, combine_scheds), "check_schedules"
EXPECT, CAUGHT_BY = "sched_lin_reversed", "visible"
