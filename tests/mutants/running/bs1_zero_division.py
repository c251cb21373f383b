import math
from variants.running.solution import RunningBatchNorm as Solution


class RunningBatchNorm(Solution):
    def update_stats(self, x):
        bs, nc = x.shape[:2]
        self.sums.detach_()
        self.sqrs.detach_()
        mom1 = 1 - (1 - self.mom) / math.sqrt(bs - 1)  # bs = 1: ZeroDivisionError, as in fastai's notebook
        self.sums.lerp_(x.sum((0, 2, 3), keepdim=True), mom1)
        self.sqrs.lerp_((x * x).sum((0, 2, 3), keepdim=True), mom1)
        self.count.lerp_(self.count.new_tensor(x.numel() / nc), mom1)
        self.dbias.mul_(1 - mom1).add_(mom1)
        self.batch += bs
        self.step += 1


ANSWER, CHECK = RunningBatchNorm, "check_running_batchnorm"
EXPECT, CAUGHT_BY = "rbn_bs1_no_error", "visible"
