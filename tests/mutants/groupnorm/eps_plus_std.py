"""Mutant: Divides by std + eps."""
from variants.groupnorm.solution import GroupNorm as Solution


class GroupNorm(Solution):
    def forward(self, x):
        n = x.shape[0]
        xg = x.reshape(n, self.num_groups, -1)
        y = ((xg - xg.mean(-1, keepdim=True)) / (xg.std(-1, keepdim=True, unbiased=False) + self.eps)).reshape(x.shape)
        if self.affine:
            s = (1, -1) + (1,) * (x.dim() - 2)
            y = y * self.weight.reshape(s) + self.bias.reshape(s)
        return y


ANSWER, CHECK, EXPECT, CAUGHT_BY = GroupNorm, "check_groupnorm", "gn_eps_outside", "visible"
