"""Sums written with torch.einsum; the running buffers are replaced (not updated in place)."""

import torch
from torch import nn

CHECK = "check_batchnorm2d"


class BatchNorm2d(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        for name, value in [("running_mean", torch.zeros(num_features)),
                            ("running_var", torch.ones(num_features)),
                            ("num_batches_tracked", torch.tensor(0, dtype=torch.long))]:
            self.register_buffer(name, value if track_running_stats else None)

    def forward(self, x):
        n = x.shape[0] * x.shape[2] * x.shape[3]
        if self.training or not self.track_running_stats:
            mean = torch.einsum("nchw->c", x) / n
            centered = x - mean[:, None, None]
            var = torch.einsum("nchw,nchw->c", centered, centered) / n
            if self.training and self.track_running_stats:
                self.num_batches_tracked = self.num_batches_tracked + 1
                f = 1.0 / int(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean = (1 - f) * self.running_mean + f * mean.detach()
                self.running_var = (1 - f) * self.running_var + f * var.detach() * (n / (n - 1))
        else:
            mean, var = self.running_mean, self.running_var
            centered = x - mean[:, None, None]
        y = torch.einsum("nchw,c->nchw", centered, (var + self.eps).rsqrt())
        if self.affine:
            y = torch.einsum("nchw,c->nchw", y, self.weight) + self.bias[:, None, None]
        return y


ANSWER = BatchNorm2d
