"""Mutant: cos(2 * pi * pos): a whole period, back at start when pos = 1."""
import math
from variants.schedules.solution import sched_lin, combine_scheds


def sched_cos(start, end):
    return lambda pos: start + (1 - math.cos(2 * math.pi * pos)) * (end - start) / 2


ANSWER, CHECK = (sched_lin, sched_cos, combine_scheds), "check_schedules"
EXPECT, CAUGHT_BY = "sched_cos_full_period", "visible"
