"""Keeps dbias up to date (it is part of the state) but never divides by it: sums and count share the bias."""
from variants.running.solution import RunningBatchNorm as Solution


class RunningBatchNorm(Solution):
    def forward(self, x):
        if self.training:
            self.update_stats(x)
        means = self.sums / self.count
        varns = self.sqrs / self.count - means * means
        if self.batch < 20:
            varns = varns.clamp_min(0.01)
        return (x - means) / (varns + self.eps).sqrt() * self.mults + self.adds


ANSWER = RunningBatchNorm
CHECK = "check_running_batchnorm"
