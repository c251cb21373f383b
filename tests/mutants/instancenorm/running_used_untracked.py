import torch
from torch import nn


class InstanceNorm2d(nn.Module):
    """Keeps running statistics as plain attributes and normalizes with them in eval, whatever the flag."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False):
        super().__init__()
        self.eps, self.momentum, self.affine = eps, momentum, affine
        self.track_running_stats = track_running_stats
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
        else:
            self.running_mean, self.running_var = torch.zeros(num_features), torch.ones(num_features)

    def forward(self, x):
        if self.training:
            mean = x.mean((2, 3), keepdim=True)
            var = x.var((2, 3), keepdim=True, unbiased=False)
            with torch.no_grad():
                rm, rv = self.running_mean.to(x), self.running_var.to(x)
                n = x.shape[2] * x.shape[3]
                self.running_mean = torch.lerp(rm, mean.mean(0).flatten(), self.momentum)
                self.running_var = torch.lerp(rv, (var * n / (n - 1)).mean(0).flatten(), self.momentum)
        else:
            mean = self.running_mean.to(x).view(1, -1, 1, 1)
            var = self.running_var.to(x).view(1, -1, 1, 1)
        x = (x - mean) / torch.sqrt(var + self.eps)
        if self.affine:
            x = x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return x


ANSWER, CHECK = InstanceNorm2d, "check_instancenorm2d"
EXPECT, CAUGHT_BY = "in_tracks_untracked", "visible"
