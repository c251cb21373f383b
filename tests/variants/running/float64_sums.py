"""Per-batch sums taken in float64 and the variance formed in float64, then cast back to the input's dtype."""
import math

import torch
from variants.running.solution import RunningBatchNorm as Solution


class RunningBatchNorm(Solution):
    def update_stats(self, x):
        bs, nc = x.shape[:2]
        if bs < 2:
            raise ValueError(f"RunningBatchNorm cannot update its statistics from a batch of {bs}")
        self.sums.detach_()
        self.sqrs.detach_()
        x64 = x.double()
        s = torch.einsum("nchw->c", x64).view(1, -1, 1, 1).to(x.dtype)
        ss = torch.einsum("nchw,nchw->c", x64, x64).view(1, -1, 1, 1).to(x.dtype)
        mom1 = 1 - (1 - self.mom) / math.sqrt(bs - 1)
        self.sums.lerp_(s, mom1)
        self.sqrs.lerp_(ss, mom1)
        self.count.lerp_(self.count.new_tensor(x.numel() / nc), mom1)
        self.dbias.mul_(1 - mom1).add_(mom1)
        self.batch += bs
        self.step += 1

    def forward(self, x):
        if self.training:
            self.update_stats(x)
        sums, sqrs, c = self.sums.double(), self.sqrs.double(), self.count.double()
        if self.step < 100:
            d = self.dbias.double()
            sums, sqrs, c = sums / d, sqrs / d, c / d
        means = sums / c
        varns = sqrs / c - means * means
        if self.batch < 20:
            varns = varns.clamp_min(0.01)
        scale = (varns + self.eps).rsqrt().to(x.dtype)
        return (x - means.to(x.dtype)) * scale * self.mults + self.adds


ANSWER = RunningBatchNorm
CHECK = "check_running_batchnorm"
