import math
import torch
from variants.running.solution import RunningBatchNorm as Solution


class RunningBatchNorm(Solution):
    """Keeps a running average of per-batch variances (BatchNorm's way) instead of E[x^2] - E[x]^2."""

    def __init__(self, nf, mom=0.1, eps=1e-5):
        super().__init__(nf, mom, eps)
        self.register_buffer("vars", torch.zeros(1, nf, 1, 1))

    def update_stats(self, x):
        self.vars.detach_()
        bs = x.shape[0]
        if bs >= 2:
            mom1 = 1 - (1 - self.mom) / math.sqrt(bs - 1)
            self.vars.lerp_(x.var((0, 2, 3), keepdim=True, unbiased=False), mom1)
        super().update_stats(x)

    def forward(self, x):
        if self.training:
            self.update_stats(x)
        sums, c, varns = self.sums, self.count, self.vars
        if self.step < 100:
            sums, c, varns = sums / self.dbias, c / self.dbias, varns / self.dbias
        means = sums / c
        if self.batch < 20:
            varns = varns.clamp_min(0.01)
        return (x - means) / (varns + self.eps).sqrt() * self.mults + self.adds


ANSWER, CHECK = RunningBatchNorm, "check_running_batchnorm"
EXPECT, CAUGHT_BY = "rbn_batch_var", "visible"
