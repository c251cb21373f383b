import torch
from torch import nn
from variants.groupnorm.solution import GroupNorm as Solution


class GroupNorm(Solution):
    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True):
        super().__init__(num_groups, num_channels, eps, affine)
        if affine:  # one scale and shift per group
            self.weight = nn.Parameter(torch.ones(num_groups))
            self.bias = nn.Parameter(torch.zeros(num_groups))

    def forward(self, x):
        n = x.shape[0]
        xg = x.reshape(n, self.num_groups, -1)
        mean = xg.mean(-1, keepdim=True)
        var = xg.var(-1, keepdim=True, unbiased=False)
        xg = (xg - mean) / torch.sqrt(var + self.eps)
        if self.affine:
            xg = xg * self.weight.view(1, -1, 1) + self.bias.view(1, -1, 1)
        return xg.reshape(x.shape)


ANSWER, CHECK = GroupNorm, "check_groupnorm"
EXPECT, CAUGHT_BY = "gn_affine_per_group", "visible"
