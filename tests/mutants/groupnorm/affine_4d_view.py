"""Mutant: weight.view(1, -1, 1, 1) whatever the input's dims."""
import torch
from variants.groupnorm.solution import GroupNorm as Solution


class GroupNorm(Solution):
    def forward(self, x):
        n = x.shape[0]
        xg = x.reshape(n, self.num_groups, -1)
        var = xg.var(-1, keepdim=True, unbiased=False)
        y = ((xg - xg.mean(-1, keepdim=True)) / torch.sqrt(var + self.eps)).reshape(x.shape)
        if self.affine:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


ANSWER, CHECK, EXPECT, CAUGHT_BY = GroupNorm, "check_groupnorm", "gn_4d_only", "visible"
