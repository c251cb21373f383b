"""Mutant: Sets the lr in after_batch: every step uses the previous lr."""
from variants.schedules.solution import LRSchedulerCB as Solution


class LRSchedulerCB(Solution):
    def before_batch(self, learn):
        pass

    def after_batch(self, learn):
        Solution.before_batch(self, learn)


ANSWER, CHECK, EXPECT, CAUGHT_BY = LRSchedulerCB, "check_lr_callback", "sched_cb_after_step", "visible"
