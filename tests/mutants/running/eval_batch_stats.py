from variants.running.solution import RunningBatchNorm as Solution


class RunningBatchNorm(Solution):
    def forward(self, x):
        if self.training:
            return super().forward(x)
        means = x.mean((0, 2, 3), keepdim=True)  # evaluation uses the batch's own statistics
        varns = x.var((0, 2, 3), keepdim=True, unbiased=False)
        return (x - means) / (varns + self.eps).sqrt() * self.mults + self.adds


ANSWER, CHECK = RunningBatchNorm, "check_running_batchnorm"
EXPECT, CAUGHT_BY = "rbn_eval_batch_stats", "visible"
