"""Moves channels first and flattens to (C, N*H*W) with reshape, then works on rows."""

import torch
from torch import nn

CHECK = "check_batchnorm2d"


class BatchNorm2d(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.track_running_stats = track_running_stats
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        self.register_buffer("running_mean", torch.zeros(num_features) if track_running_stats else None)
        self.register_buffer("running_var", torch.ones(num_features) if track_running_stats else None)
        self.register_buffer("num_batches_tracked",
                             torch.zeros((), dtype=torch.long) if track_running_stats else None)

    def forward(self, x):
        N, C, H, W = x.shape
        rows = x.transpose(0, 1).reshape(C, -1)
        if self.training or not self.track_running_stats:
            mean = rows.mean(1, keepdim=True)
            var = (rows - mean).pow(2).mean(1, keepdim=True)
            if self.training and self.track_running_stats:
                with torch.no_grad():
                    self.num_batches_tracked += 1
                    f = self.momentum
                    if f is None:
                        f = 1.0 / self.num_batches_tracked.item()
                    self.running_mean.lerp_(mean.squeeze(1), f)
                    self.running_var.lerp_(rows.var(1), f)
        else:
            mean, var = self.running_mean[:, None], self.running_var[:, None]
        out = (rows - mean) / (var + self.eps).sqrt()
        if self.weight is not None:
            out = out * self.weight[:, None] + self.bias[:, None]
        return out.reshape(C, N, H, W).transpose(0, 1)


ANSWER = BatchNorm2d
