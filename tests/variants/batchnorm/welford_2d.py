"""Batch statistics by merging per-sample (count, mean, M2) triples (Chan et al.'s parallel Welford)."""

import torch
from torch import nn

CHECK = "check_batchnorm2d"


def welford(x):
    """Per-channel mean and biased variance of (N, C, H, W) x, one sample at a time."""
    count, mean, m2 = 0, torch.zeros_like(x[0, :, 0, 0]), torch.zeros_like(x[0, :, 0, 0])
    for sample in x:
        k = sample[0].numel()
        s_mean = sample.mean(dim=(1, 2))
        s_m2 = ((sample - s_mean[:, None, None]) ** 2).sum(dim=(1, 2))
        delta = s_mean - mean
        total = count + k
        mean = mean + delta * (k / total)
        m2 = m2 + s_m2 + delta**2 * (count * k / total)
        count = total
    return mean, m2 / count, count


class BatchNorm2d(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        self.eps, self.momentum, self.affine, self.track = eps, momentum, affine, track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.register_buffer("running_mean", torch.zeros(num_features) if self.track else None)
        self.register_buffer("running_var", torch.ones(num_features) if self.track else None)
        self.register_buffer("num_batches_tracked", torch.tensor(0) if self.track else None)

    def forward(self, x):
        if self.training or not self.track:
            mean, var, n = welford(x)
            if self.training and self.track:
                with torch.no_grad():
                    self.num_batches_tracked += 1
                    f = self.momentum if self.momentum is not None else 1 / float(self.num_batches_tracked)
                    self.running_mean += f * (mean - self.running_mean)
                    self.running_var += f * (var * n / (n - 1) - self.running_var)
        else:
            mean, var = self.running_mean, self.running_var
        shape = (1, -1, 1, 1)
        y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y


ANSWER = BatchNorm2d
