"""The lesson's GroupNorm: (N, C, *) viewed as (N, G, -1), each sample's group normalized on its own."""
import torch
from torch import nn


class GroupNorm(nn.Module):
    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        if affine:
            self.weight = nn.Parameter(torch.ones(num_channels))
            self.bias = nn.Parameter(torch.zeros(num_channels))
        else:
            self.weight, self.bias = None, None

    def forward(self, x):
        n = x.shape[0]
        xg = x.reshape(n, self.num_groups, -1)
        mean = xg.mean(-1, keepdim=True)
        var = xg.var(-1, keepdim=True, unbiased=False)
        x = ((xg - mean) / torch.sqrt(var + self.eps)).reshape(x.shape)
        if self.affine:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            x = x * self.weight.reshape(shape) + self.bias.reshape(shape)
        return x


ANSWER = GroupNorm
CHECK = "check_groupnorm"
