"""Mutant: Divides by varns.sqrt() + eps."""

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
        if self.batch < 20:
            varns = varns.clamp_min(0.01)
        return (x - means) / (varns.sqrt() + self.eps) * self.mults + self.adds


ANSWER, CHECK = RunningBatchNorm, "check_running_batchnorm"
EXPECT, CAUGHT_BY = "rbn_eps_outside", "visible"
