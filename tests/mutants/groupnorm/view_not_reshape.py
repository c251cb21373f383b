"""Mutant: x.view(N, G, -1): fails on channels_last input."""
import torch
from variants.groupnorm.solution import GroupNorm as Solution


class GroupNorm(Solution):
    def forward(self, x):
        n = x.shape[0]
        xg = x.view(n, self.num_groups, -1)
        var = xg.var(-1, keepdim=True, unbiased=False)
        y = ((xg - xg.mean(-1, keepdim=True)) / torch.sqrt(var + self.eps)).view(x.shape)
        if self.affine:
            s = (1, -1) + (1,) * (x.dim() - 2)
            y = y * self.weight.reshape(s) + self.bias.reshape(s)
        return y


ANSWER, CHECK, EXPECT, CAUGHT_BY = GroupNorm, "check_groupnorm", "gn_view_noncontiguous", "hidden"
