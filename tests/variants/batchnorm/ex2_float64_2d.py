"""Variance as E[x^2] - E[x]^2, computed in float64 (one pass, no cancellation trouble), cast back."""

import torch
from torch import nn

CHECK = "check_batchnorm2d"


class BatchNorm2d(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        self.eps, self.momentum, self.track_running_stats = eps, momentum, track_running_stats
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x):
        C = x.shape[1]
        if self.training or self.running_mean is None:
            x64 = x.double()
            n = x.numel() // C
            mean = x64.sum(dim=(0, 2, 3)) / n
            var = (x64 * x64).sum(dim=(0, 2, 3)) / n - mean * mean
            if self.training and self.running_mean is not None:
                with torch.no_grad():
                    self.num_batches_tracked.add_(1)
                    f = self.momentum if self.momentum is not None else 1 / self.num_batches_tracked.item()
                    self.running_mean.copy_((1 - f) * self.running_mean + f * mean)
                    self.running_var.copy_((1 - f) * self.running_var + f * var * n / (n - 1))
            mean, var = mean.to(x.dtype), var.to(x.dtype)
        else:
            mean, var = self.running_mean, self.running_var
        scale = torch.rsqrt(var + self.eps)
        y = (x - mean.reshape(1, C, 1, 1)) * scale.reshape(1, C, 1, 1)
        if self.weight is not None:
            y = y * self.weight.reshape(1, C, 1, 1) + self.bias.reshape(1, C, 1, 1)
        return y


ANSWER = BatchNorm2d
