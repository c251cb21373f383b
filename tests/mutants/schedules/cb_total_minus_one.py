"""Mutant: total = n_epochs * len(train) - 1: pos reaches 1 one batch early."""
from variants.schedules.solution import LRSchedulerCB as Solution


class LRSchedulerCB(Solution):
    def before_fit(self, learn):
        self.total, self.done, self.lrs = learn.n_epochs * len(learn.dls.train) - 1, 0, []


ANSWER, CHECK, EXPECT, CAUGHT_BY = LRSchedulerCB, "check_lr_callback", "sched_cb_pos_off_by_one", "visible"
