import math
from variants.schedules.solution import sched_lin, combine_scheds


def sched_cos(start, end):
    return lambda pos: start + (end - start) * math.sin(math.pi / 2 * pos)


ANSWER, CHECK = (sched_lin, sched_cos, combine_scheds), "check_schedules"
EXPECT, CAUGHT_BY = "sched_cos_sin", "visible"
