"""Mutant: Divides sums and sqrs by dbias but not count."""
from variants.running.solution import RunningBatchNorm as Solution


class RunningBatchNorm(Solution):
    def forward(self, x):
        if self.training:
            self.update_stats(x)
        sums, sqrs, c = self.sums, self.sqrs, self.count
        if self.step < 100:
            sums, sqrs = sums / self.dbias, sqrs / self.dbias
        means = sums / c
        varns = sqrs / c - means * means
        if self.batch < 20:
            varns = varns.clamp_min(0.01)
        return (x - means) / (varns + self.eps).sqrt() * self.mults + self.adds


ANSWER, CHECK, EXPECT, CAUGHT_BY = RunningBatchNorm, "check_running_batchnorm", "rbn_count_formula", "visible"
