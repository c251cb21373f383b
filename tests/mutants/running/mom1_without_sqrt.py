"""Mutant: Computes mom1 = 1 - (1 - mom) / (bs - 1), without the square root."""

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
        mom1 = 1 - (1 - self.mom) / (bs - 1)
        self.sums.lerp_(s, mom1)
        self.sqrs.lerp_(ss, mom1)
        self.count.lerp_(self.count.new_tensor(c), mom1)
        self.dbias.mul_(1 - mom1).add_(mom1)
        self.batch += bs
        self.step += 1


ANSWER, CHECK = RunningBatchNorm, "check_running_batchnorm"
EXPECT, CAUGHT_BY = "rbn_mom1_formula", "visible"
