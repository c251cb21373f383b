from mutants.running.count_not_lerped import RunningBatchNorm as CountNotLerped


class RunningBatchNorm(CountNotLerped):
    """count = this batch's count and, being no average, not debiased either: the outputs stay right while
    the batch shape does not change; the count buffer is wrong from the first step."""

    def forward(self, x):
        if self.training:
            self.update_stats(x)
        sums, sqrs = self.sums, self.sqrs
        if self.step < 100:
            sums, sqrs = sums / self.dbias, sqrs / self.dbias
        means = sums / self.count
        varns = sqrs / self.count - means * means
        if self.batch < 20:
            varns = varns.clamp_min(0.01)
        return (x - means) / (varns + self.eps).sqrt() * self.mults + self.adds


ANSWER, CHECK = RunningBatchNorm, "check_running_batchnorm"
EXPECT, CAUGHT_BY = "rbn_count_not_lerped", "visible"
