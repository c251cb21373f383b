"""A plain BatchNorm1d: moves channels last, normalizes rows of (N*L, C), updates buffers with lerp_."""

import torch
from torch import nn

CHECK = "check_batchnorm1d"


class BatchNorm1d(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.empty(num_features))
            self.bias = nn.Parameter(torch.empty(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.empty(num_features))
            self.register_buffer("running_var", torch.empty(num_features))
            self.register_buffer("num_batches_tracked", torch.empty((), dtype=torch.long))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()
        if self.affine:
            nn.init.ones_(self.weight)
            nn.init.zeros_(self.bias)

    def forward(self, x):
        rows = x.movedim(1, -1).reshape(-1, self.num_features) if x.dim() == 3 else x
        if self.training or not self.track_running_stats:
            mean = rows.mean(0)
            var = rows.var(0, unbiased=False)
            if self.training and self.track_running_stats:
                with torch.no_grad():
                    self.num_batches_tracked += 1
                    f = self.momentum if self.momentum is not None else 1.0 / self.num_batches_tracked.item()
                    self.running_mean.lerp_(mean, f)
                    self.running_var.lerp_(rows.var(0, unbiased=True), f)
        else:
            mean, var = self.running_mean, self.running_var
        out = (rows - mean) / torch.sqrt(var + self.eps)
        if self.affine:
            out = out * self.weight + self.bias
        if x.dim() == 3:
            out = out.reshape(x.shape[0], x.shape[2], -1).movedim(-1, 1)
        return out


ANSWER = BatchNorm1d
