"""Mutant: Transposes the channel blocks before grouping and reshapes back without transposing again."""
import torch
from variants.groupnorm.solution import GroupNorm as Solution


class GroupNorm(Solution):
    def forward(self, x):
        n, c = x.shape[:2]
        xg = x.reshape(n, self.num_groups, c // self.num_groups, -1).transpose(1, 2).reshape(n, self.num_groups, -1)
        var = xg.var(-1, keepdim=True, unbiased=False)
        y = ((xg - xg.mean(-1, keepdim=True)) / torch.sqrt(var + self.eps)).reshape(x.shape)
        if self.affine:
            s = (1, -1) + (1,) * (x.dim() - 2)
            y = y * self.weight.reshape(s) + self.bias.reshape(s)
        return y


ANSWER, CHECK, EXPECT, CAUGHT_BY = GroupNorm, "check_groupnorm", "norm_output_scrambled", "visible"
