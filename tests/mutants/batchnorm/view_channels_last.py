"""Mutant: Views the batch as (-1, C) rows as if the channels were the last dimension."""

import torch
from torch import nn

CHECK = "check_batchnorm2d"
EXPECT = "bn_channels_scrambled"
CAUGHT_BY = "visible"


class BatchNorm2d(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
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
        C = x.shape[1]
        flat = x.reshape(-1, C)
        if self.training or not self.track_running_stats:
            mean, var = flat.mean(0), flat.var(0, unbiased=False)
            if self.training and self.track_running_stats:
                with torch.no_grad():
                    self.num_batches_tracked += 1
                    m = self.momentum if self.momentum is not None else 1 / self.num_batches_tracked.item()
                    self.running_mean = (1 - m) * self.running_mean + m * mean
                    self.running_var = (1 - m) * self.running_var + m * flat.var(0)
        else:
            mean, var = self.running_mean, self.running_var
        out = (flat - mean) / torch.sqrt(var + self.eps)
        if self.affine:
            out = out * self.weight + self.bias
        return out.reshape(x.shape)


ANSWER = BatchNorm2d
