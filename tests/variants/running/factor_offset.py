"""Lesson 11's rewrite: the normalization and the affine folded into one scale and one shift per channel."""
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
        factor = self.mults / (varns + self.eps).sqrt()
        offset = self.adds - means * factor
        return x * factor + offset


ANSWER = RunningBatchNorm
CHECK = "check_running_batchnorm"
