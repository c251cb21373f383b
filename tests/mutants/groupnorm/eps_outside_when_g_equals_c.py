from variants.groupnorm.solution import GroupNorm as Solution


class GroupNorm(Solution):
    def forward(self, x):
        if self.num_groups != self.num_channels:
            return super().forward(x)
        # "G = C is InstanceNorm": a separate fast path, where eps slipped outside the square root
        xc = x.reshape(x.shape[0], x.shape[1], -1)
        mean = xc.mean(-1, keepdim=True)
        std = xc.std(-1, keepdim=True, unbiased=False)
        x = ((xc - mean) / (std + self.eps)).reshape(x.shape)
        if self.affine:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            x = x * self.weight.reshape(shape) + self.bias.reshape(shape)
        return x


ANSWER, CHECK = GroupNorm, "check_groupnorm"
EXPECT, CAUGHT_BY = "gn_eps_outside", "visible"
