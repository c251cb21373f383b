"""Mutant: Sets the lr of param_groups[0] only."""
from variants.schedules.solution import LRSchedulerCB as Solution


class LRSchedulerCB(Solution):
    def before_batch(self, learn):
        if not learn.training:
            return
        lr = self.sched(self.done / self.total)
        learn.opt.param_groups[0]["lr"] = lr
        self.lrs.append(lr)
        self.done += 1


ANSWER, CHECK, EXPECT, CAUGHT_BY = LRSchedulerCB, "check_lr_callback", "sched_cb_first_group", "visible"
