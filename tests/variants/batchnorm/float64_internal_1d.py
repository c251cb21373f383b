"""BatchNorm1d that computes everything in float64 and returns the input's dtype."""

import torch
from torch import nn

CHECK = "check_batchnorm1d"


class BatchNorm1d(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        self.eps, self.momentum, self.affine = eps, momentum, affine
        self.track_running_stats = track_running_stats
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x):
        x64 = x.to(torch.float64)
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        if self.training or self.running_mean is None:
            var, mean = torch.var_mean(x64, dim=dims, correction=0)
            if self.training and self.running_mean is not None:
                n = x.numel() // x.shape[1]
                with torch.no_grad():
                    self.num_batches_tracked += 1
                    f = 1 / self.num_batches_tracked.double() if self.momentum is None else self.momentum
                    new_mean = (1 - f) * self.running_mean.double() + f * mean
                    new_var = (1 - f) * self.running_var.double() + f * var * n / (n - 1)
                    self.running_mean.copy_(new_mean)
                    self.running_var.copy_(new_var)
        else:
            mean, var = self.running_mean.double(), self.running_var.double()
        y = (x64 - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.double().view(shape) + self.bias.double().view(shape)
        return y.to(x.dtype)


ANSWER = BatchNorm1d
