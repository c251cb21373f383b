"""Mutant: total = len(learn.dls.train): pos counts against one epoch, not the whole fit."""
from variants.schedules.solution import LRSchedulerCB as Solution


class LRSchedulerCB(Solution):
    def before_fit(self, learn):
        self.total, self.done, self.lrs = len(learn.dls.train), 0, []


ANSWER, CHECK = LRSchedulerCB, "check_lr_callback"
EXPECT, CAUGHT_BY = "sched_cb_total_one_epoch", "visible"
