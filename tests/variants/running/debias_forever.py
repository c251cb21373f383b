"""Divides by dbias at every step, never stopping: the same outputs, as the factor cancels in the ratios."""
from variants.running.solution import RunningBatchNorm as Solution


class RunningBatchNorm(Solution):
    def forward(self, x):
        if self.training:
            self.update_stats(x)
        sums, sqrs, c = self.sums / self.dbias, self.sqrs / self.dbias, self.count / self.dbias
        means = sums / c
        varns = sqrs / c - means * means
        if self.batch < 20:
            varns = varns.clamp_min(0.01)
        return (x - means) / (varns + self.eps).sqrt() * self.mults + self.adds


ANSWER = RunningBatchNorm
CHECK = "check_running_batchnorm"
