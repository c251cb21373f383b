from variants.schedules.solution import LRSchedulerCB as Solution


class LRSchedulerCB(Solution):
    def before_batch(self, learn):
        lr = self.sched(self.done / self.total)
        for g in learn.opt.param_groups:
            g["lr"] = lr
        if learn.training:
            self.lrs.append(lr)
        self.done += 1  # validation batches counted too


ANSWER, CHECK = LRSchedulerCB, "check_lr_callback"
EXPECT, CAUGHT_BY = "sched_cb_counts_valid", "visible"
