import math
from variants.running.solution import RunningBatchNorm as Solution


class RunningBatchNorm(Solution):
    """No debiasing at all: dbias stays 0 and nothing is divided by it."""

    def update_stats(self, x):
        bs, nc = x.shape[:2]
        if bs < 2:
            raise ValueError("need at least 2 samples")
        self.sums.detach_()
        self.sqrs.detach_()
        mom1 = 1 - (1 - self.mom) / math.sqrt(bs - 1)
        self.sums.lerp_(x.sum((0, 2, 3), keepdim=True), mom1)
        self.sqrs.lerp_((x * x).sum((0, 2, 3), keepdim=True), mom1)
        self.count.lerp_(self.count.new_tensor(x.numel() / nc), mom1)
        self.batch += bs
        self.step += 1

    def forward(self, x):
        if self.training:
            self.update_stats(x)
        means = self.sums / self.count
        varns = self.sqrs / self.count - means * means
        if self.batch < 20:
            varns = varns.clamp_min(0.01)
        return (x - means) / (varns + self.eps).sqrt() * self.mults + self.adds


ANSWER, CHECK = RunningBatchNorm, "check_running_batchnorm"
EXPECT, CAUGHT_BY = "rbn_dbias", "visible"
