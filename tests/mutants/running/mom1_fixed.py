from variants.running.solution import RunningBatchNorm as Solution


class RunningBatchNorm(Solution):
    def update_stats(self, x):
        bs, nc = x.shape[:2]
        if bs < 2:
            raise ValueError("need at least 2 samples")
        self.sums.detach_()
        self.sqrs.detach_()
        mom1 = self.mom  # the plain momentum, whatever the batch size
        self.sums.lerp_(x.sum((0, 2, 3), keepdim=True), mom1)
        self.sqrs.lerp_((x * x).sum((0, 2, 3), keepdim=True), mom1)
        self.count.lerp_(self.count.new_tensor(x.numel() / nc), mom1)
        self.dbias.mul_(1 - mom1).add_(mom1)
        self.batch += bs
        self.step += 1


ANSWER, CHECK = RunningBatchNorm, "check_running_batchnorm"
EXPECT, CAUGHT_BY = "rbn_mom1_fixed", "visible"
