"""Mutant: start + (1 + cos(pi * pos)) * (end - start) / 2: from end to start."""
import math
from variants.schedules.solution import sched_lin, combine_scheds


def sched_cos(start, end):
    return lambda pos: start + (1 + math.cos(math.pi * pos)) * (end - start) / 2


ANSWER, CHECK = (sched_lin, sched_cos, combine_scheds), "check_schedules"
EXPECT, CAUGHT_BY = "sched_cos_reversed", "visible"
