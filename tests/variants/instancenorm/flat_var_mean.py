"""Each (sample, channel) plane flattened to a row: var_mean along it, running stats from the rows."""
import torch
from torch import nn


class InstanceNorm2d(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False):
        super().__init__()
        self.eps, self.momentum, self.track_running_stats = eps, momentum, track_running_stats
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

    def forward(self, x):
        n, c = x.shape[:2]
        rows = x.reshape(n, c, -1)
        if self.training or not self.track_running_stats:
            var, mean = torch.var_mean(rows, dim=-1, correction=0)
            if self.training and self.track_running_stats:
                with torch.no_grad():
                    k = rows.shape[-1]
                    self.running_mean.lerp_(mean.mean(0), self.momentum)
                    self.running_var.lerp_(var.mean(0) * k / (k - 1), self.momentum)
                    self.num_batches_tracked += 1
        else:
            mean, var = self.running_mean.expand(n, c), self.running_var.expand(n, c)
        y = (rows - mean[..., None]) / torch.sqrt(var[..., None] + self.eps)
        if self.weight is not None:
            y = y * self.weight[:, None] + self.bias[:, None]
        return y.reshape(x.shape)


ANSWER = InstanceNorm2d
CHECK = "check_instancenorm2d"
