"""Mutant: Forgets the / 2 of the half cosine: goes twice as far as end."""
import math
from variants.schedules.solution import sched_lin, combine_scheds


def sched_cos(start, end):
    return lambda pos: start + (1 - math.cos(math.pi * pos)) * (end - start)


ANSWER, CHECK = (sched_lin, sched_cos, combine_scheds), "check_schedules"
EXPECT, CAUGHT_BY = "sched_cos_not_halved", "visible"
