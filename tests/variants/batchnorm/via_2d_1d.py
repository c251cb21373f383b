"""BatchNorm1d written through a BatchNorm2d: (N, C) and (N, C, L) become (N, C, L, 1) and back."""

import torch
from torch import nn

CHECK = "check_batchnorm1d"


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
        if self.training or not self.track_running_stats:
            var, mean = torch.var_mean(x, dim=(0, 2, 3), correction=0)
            if self.training and self.track_running_stats:
                n = x.numel() // x.shape[1]
                with torch.no_grad():
                    self.num_batches_tracked += 1
                    f = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                    self.running_mean.mul_(1 - f).add_(mean, alpha=f)
                    self.running_var.mul_(1 - f).add_(var, alpha=f * n / (n - 1))
        else:
            mean, var = self.running_mean, self.running_var
        y = (x - mean[:, None, None]) / (var[:, None, None] + self.eps).sqrt()
        if self.affine:
            y = y * self.weight[:, None, None] + self.bias[:, None, None]
        return y


class BatchNorm1d(BatchNorm2d):
    def forward(self, x):
        if x.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {x.dim()}D input)")
        shape = x.shape
        y = super().forward(x.reshape(shape[0], shape[1], -1, 1))
        return y.reshape(shape)


ANSWER = BatchNorm1d
