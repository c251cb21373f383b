"""Mutant: Clamps the variance while step < 20 instead of batch < 20."""
from variants.running.solution import RunningBatchNorm as Solution


class RunningBatchNorm(Solution):
    def forward(self, x):
        if self.training:
            self.update_stats(x)
        sums, sqrs, c = self.sums, self.sqrs, self.count
        if self.step < 100:
            sums, sqrs, c = sums / self.dbias, sqrs / self.dbias, c / self.dbias
        means = sums / c
        varns = sqrs / c - means * means
        if self.step < 20:
            varns = varns.clamp_min(0.01)
        return (x - means) / (varns + self.eps).sqrt() * self.mults + self.adds


ANSWER, CHECK, EXPECT, CAUGHT_BY = RunningBatchNorm, "check_running_batchnorm", "rbn_clamp_window", "hidden"
