"""The lesson's schedules and callback, in fastai's style."""
import math

from normlab import Callback


def sched_lin(start, end):
    return lambda pos: start + pos * (end - start)


def sched_cos(start, end):
    return lambda pos: start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def combine_scheds(pcts, scheds):
    assert abs(sum(pcts) - 1) < 1e-6
    bounds = [0.0]
    for p in pcts:
        bounds.append(bounds[-1] + p)

    def _inner(pos):
        idx = min(max(i for i in range(len(scheds)) if pos >= bounds[i]), len(scheds) - 1)
        return scheds[idx]((pos - bounds[idx]) / (bounds[idx + 1] - bounds[idx]))
    return _inner


class LRSchedulerCB(Callback):
    def __init__(self, sched):
        self.sched = sched

    def before_fit(self, learn):
        self.total, self.done, self.lrs = learn.n_epochs * len(learn.dls.train), 0, []

    def before_batch(self, learn):
        if not learn.training:
            return
        lr = self.sched(self.done / self.total)
        for g in learn.opt.param_groups:
            g["lr"] = lr
        self.lrs.append(lr)
        self.done += 1


ANSWER = (sched_lin, sched_cos, combine_scheds)
CHECK = "check_schedules"
