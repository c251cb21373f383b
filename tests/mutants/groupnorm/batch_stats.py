import torch
from variants.groupnorm.solution import GroupNorm as Solution


class GroupNorm(Solution):
    def forward(self, x):
        xg = x.reshape(x.shape[0], self.num_groups, -1)
        mean = xg.mean((0, 2), keepdim=True)  # pooled over the batch as well
        var = xg.var((0, 2), keepdim=True, unbiased=False)
        x = ((xg - mean) / torch.sqrt(var + self.eps)).reshape(x.shape)
        if self.affine:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            x = x * self.weight.reshape(shape) + self.bias.reshape(shape)
        return x


ANSWER, CHECK = GroupNorm, "check_groupnorm"
EXPECT, CAUGHT_BY = "gn_batch_stats", "visible"
