import torch
from variants.groupnorm.solution import GroupNorm as Solution


class GroupNorm(Solution):
    def forward(self, x):
        n, c = x.shape[:2]
        # (N, C//G, G, -1): channel c lands in group c % G, not in block c // (C//G)
        xg = x.reshape(n, c // self.num_groups, self.num_groups, -1)
        mean = xg.mean((1, 3), keepdim=True)
        var = xg.var((1, 3), keepdim=True, unbiased=False)
        x = ((xg - mean) / torch.sqrt(var + self.eps)).reshape(x.shape)
        if self.affine:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            x = x * self.weight.reshape(shape) + self.bias.reshape(shape)
        return x


ANSWER, CHECK = GroupNorm, "check_groupnorm"
EXPECT, CAUGHT_BY = "gn_interleaved", "visible"
