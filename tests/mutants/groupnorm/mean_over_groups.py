"""Mutant: Reduces over dim 1 of (N, G, -1): across the groups instead of within each."""
import torch
from variants.groupnorm.solution import GroupNorm as Solution


class GroupNorm(Solution):
    def forward(self, x):
        n, c = x.shape[:2]
        xg = x.reshape(n, self.num_groups, -1)
        mean = xg.mean(1, keepdim=True)
        var = xg.var(1, keepdim=True, unbiased=False)
        y = ((xg - mean) / torch.sqrt(var + self.eps)).reshape(x.shape)
        if self.affine:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y


ANSWER, CHECK = GroupNorm, "check_groupnorm"
EXPECT, CAUGHT_BY = "gn_wrong_grouping", "visible"
