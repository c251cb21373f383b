from variants.running.solution import RunningBatchNorm as Solution


class RunningBatchNorm(Solution):
    def forward(self, x):
        if self.training:
            self.update_stats(x)
        sums, c = self.sums, self.count
        if self.step < 100:
            sums, c = sums / self.dbias, c / self.dbias
        means = sums / c
        varns = x.var((0, 2, 3), keepdim=True, unbiased=False)  # this batch's variance, not the running one
        if self.batch < 20:
            varns = varns.clamp_min(0.01)
        return (x - means) / (varns + self.eps).sqrt() * self.mults + self.adds


ANSWER, CHECK = RunningBatchNorm, "check_running_batchnorm"
EXPECT, CAUGHT_BY = "rbn_batch_var", "visible"
