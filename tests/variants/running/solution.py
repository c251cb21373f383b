"""The lesson's RunningBatchNorm, in fastai's style: in-place lerps, the previous sums detached first."""
import math

import torch
from torch import nn


class RunningBatchNorm(nn.Module):
    def __init__(self, nf, mom=0.1, eps=1e-5):
        super().__init__()
        self.mom, self.eps = mom, eps
        self.mults = nn.Parameter(torch.ones(nf, 1, 1))
        self.adds = nn.Parameter(torch.zeros(nf, 1, 1))
        self.register_buffer("sums", torch.zeros(1, nf, 1, 1))
        self.register_buffer("sqrs", torch.zeros(1, nf, 1, 1))
        self.register_buffer("count", torch.tensor(0.0))
        self.register_buffer("batch", torch.tensor(0.0))
        self.register_buffer("step", torch.tensor(0.0))
        self.register_buffer("dbias", torch.tensor(0.0))

    def update_stats(self, x):
        bs, nc = x.shape[:2]
        if bs < 2:
            raise ValueError(f"RunningBatchNorm needs at least 2 samples per training batch, got {bs}")
        self.sums.detach_()
        self.sqrs.detach_()
        s = x.sum((0, 2, 3), keepdim=True)
        ss = (x * x).sum((0, 2, 3), keepdim=True)
        c = x.numel() / nc
        mom1 = 1 - (1 - self.mom) / math.sqrt(bs - 1)
        self.sums.lerp_(s, mom1)
        self.sqrs.lerp_(ss, mom1)
        self.count.lerp_(self.count.new_tensor(c), mom1)
        self.dbias.mul_(1 - mom1).add_(mom1)
        self.batch += bs
        self.step += 1

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
        return (x - means) / (varns + self.eps).sqrt() * self.mults + self.adds


ANSWER = RunningBatchNorm
CHECK = "check_running_batchnorm"
