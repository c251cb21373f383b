"""Mutant: Lerps sums, sqrs and count with 1 - mom1 instead of mom1."""
import math

from variants.running.solution import RunningBatchNorm as Solution


class RunningBatchNorm(Solution):
    def update_stats(self, x):
        bs, nc = x.shape[:2]
        if bs < 2:
            raise ValueError("need at least 2 samples")
        self.sums.detach_()
        self.sqrs.detach_()
        s = x.sum((0, 2, 3), keepdim=True)
        ss = (x * x).sum((0, 2, 3), keepdim=True)
        c = x.numel() / nc
        mom1 = 1 - (1 - self.mom) / math.sqrt(bs - 1)
        self.sums.lerp_(s, 1 - mom1)
        self.sqrs.lerp_(ss, 1 - mom1)
        self.count.lerp_(self.count.new_tensor(c), 1 - mom1)
        self.dbias.mul_(1 - mom1).add_(mom1)
        self.batch += bs
        self.step += 1


ANSWER, CHECK = RunningBatchNorm, "check_running_batchnorm"
EXPECT, CAUGHT_BY = "rbn_lerp_reversed", "visible"
