from variants.schedules.solution import LRSchedulerCB as Solution


class LRSchedulerCB(Solution):
    def before_epoch(self, learn):
        self.done, self.total = 0, len(learn.dls.train)  # pos per epoch


ANSWER, CHECK = LRSchedulerCB, "check_lr_callback"
EXPECT, CAUGHT_BY = "sched_cb_per_epoch", "visible"
