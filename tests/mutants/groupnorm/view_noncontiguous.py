import torch
from variants.groupnorm.solution import GroupNorm as Solution


class GroupNorm(Solution):
    def forward(self, x):
        xg = x.view(x.shape[0], self.num_groups, -1)  # fails on channels_last or transposed input
        mean = xg.mean(-1, keepdim=True)
        var = xg.var(-1, keepdim=True, unbiased=False)
        x = ((xg - mean) / torch.sqrt(var + self.eps)).view(x.shape)
        if self.affine:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            x = x * self.weight.view(shape) + self.bias.view(shape)
        return x


ANSWER, CHECK = GroupNorm, "check_groupnorm"
EXPECT, CAUGHT_BY = "gn_view_noncontiguous", "hidden"
