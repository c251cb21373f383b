"""pos from learn.epoch and learn.iter; lr set in before_batch; lrs read back from the optimizer."""
from normlab import Callback


class LRSchedulerCB(Callback):
    def __init__(self, sched):
        self.sched, self.lrs = sched, []

    def before_fit(self, learn):
        self.lrs = []

    def before_batch(self, learn):
        if learn.training:
            n = len(learn.dls.train)
            pos = (learn.epoch * n + learn.iter) / (learn.n_epochs * n)
            for g in learn.opt.param_groups:
                g["lr"] = self.sched(pos)
            self.lrs.append(learn.opt.param_groups[0]["lr"])


ANSWER, CHECK = LRSchedulerCB, "check_lr_callback"
