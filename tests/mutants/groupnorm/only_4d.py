import torch
from variants.groupnorm.solution import GroupNorm as Solution


class GroupNorm(Solution):
    def forward(self, x):
        n, c, h, w = x.shape  # images only: (N, C) and (N, C, L) input fail here
        xg = x.reshape(n, self.num_groups, c // self.num_groups, h, w)
        mean = xg.mean((2, 3, 4), keepdim=True)
        var = xg.var((2, 3, 4), keepdim=True, unbiased=False)
        x = ((xg - mean) / torch.sqrt(var + self.eps)).reshape(n, c, h, w)
        if self.affine:
            x = x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return x


ANSWER, CHECK = GroupNorm, "check_groupnorm"
EXPECT, CAUGHT_BY = "gn_4d_only", "visible"
