"""Mutant: Divides by the group std with no eps."""
from variants.groupnorm.solution import GroupNorm as Solution


class GroupNorm(Solution):
    def forward(self, x):
        n, c = x.shape[:2]
        xg = x.reshape(n, self.num_groups, -1)
        mean = xg.mean(-1, keepdim=True)
        std = xg.std(-1, keepdim=True, unbiased=False)
        y = ((xg - mean) / std).reshape(x.shape)
        if self.affine:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y


ANSWER, CHECK = GroupNorm, "check_groupnorm"
EXPECT, CAUGHT_BY = "norm_eps_missing", "visible"
