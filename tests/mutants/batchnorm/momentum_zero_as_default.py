"""Mutant: `momentum = momentum or 0.1` in __init__ -- momentum=0.0 becomes the default 0.1 (and None too, which
fails first on the momentum=None scenario; here None is kept apart so that momentum 0 is what is caught)."""

import torch
from torch import nn

CHECK = "check_batchnorm2d"
EXPECT = "bn_momentum_zero_as_none"
CAUGHT_BY = "visible"


def channel(t):
    return t[None, :, None, None]


class BatchNorm2d(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.momentum = None if momentum is None else (momentum or 0.1)
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x):
        if self.training or not self.track_running_stats:
            mean = x.mean(dim=(0, 2, 3))
            var = ((x - channel(mean)) ** 2).mean(dim=(0, 2, 3))
            if self.training and self.track_running_stats:
                with torch.no_grad():
                    self.num_batches_tracked += 1
                    m = 1.0 / self.num_batches_tracked.item() if self.momentum is None else self.momentum
                    n = x.numel() / x.shape[1]
                    self.running_mean.mul_(1 - m).add_(m * mean)
                    self.running_var.mul_(1 - m).add_(m * var * n / (n - 1))
        else:
            mean, var = self.running_mean, self.running_var
        y = (x - channel(mean)) / torch.sqrt(channel(var) + self.eps)
        if self.affine:
            y = y * channel(self.weight) + channel(self.bias)
        return y


ANSWER = BatchNorm2d
