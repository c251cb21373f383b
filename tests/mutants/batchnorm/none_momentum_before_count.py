"""Mutant: With momentum=None, takes 1 / num_batches_tracked before counting this batch."""
import torch
from torch import nn


class BatchNorm1d(nn.Module):
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
        dims = (0,) if x.dim() == 2 else (0, 2)
        s = (1, -1) if x.dim() == 2 else (1, -1, 1)
        if self.training or not self.track_running_stats:
            mean, var = x.mean(dims), x.var(dims, unbiased=False)
            if self.training and self.track_running_stats:
                with torch.no_grad():
                    seen = self.num_batches_tracked.item()
                    m = self.momentum if self.momentum is not None else (1 / seen if seen else 1.0)
                    self.num_batches_tracked += 1
                    self.running_mean.mul_(1 - m).add_(m * mean)
                    self.running_var.mul_(1 - m).add_(m * x.var(dims))
        else:
            mean, var = self.running_mean, self.running_var
        y = (x - mean.view(s)) / torch.sqrt(var.view(s) + self.eps)
        return y * self.weight.view(s) + self.bias.view(s) if self.affine else y

ANSWER, CHECK, EXPECT, CAUGHT_BY = BatchNorm1d, "check_batchnorm1d", "bn_momentum_none_not_cumulative", "visible"
