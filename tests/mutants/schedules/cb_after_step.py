from variants.schedules.solution import LRSchedulerCB as Solution


class LRSchedulerCB(Solution):
    def before_batch(self, learn):
        pass

    def after_step(self, learn):
        super().before_batch(learn)  # too late: this batch's step already used the old lr


ANSWER, CHECK = LRSchedulerCB, "check_lr_callback"
EXPECT, CAUGHT_BY = "sched_cb_after_step", "visible"
