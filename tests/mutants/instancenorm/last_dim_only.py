"""Mutant: Takes the statistics over the last dim (W) only, not over (H, W)."""
import torch
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def forward(self, x):
        if not (self.training or not self.track_running_stats):
            return super().forward(x)
        super().forward(x)  # updates the running statistics
        mean = x.mean(-1, keepdim=True)
        var = x.var(-1, keepdim=True, unbiased=False)
        y = (x - mean) / torch.sqrt(var + self.eps)
        if self.affine:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


ANSWER, CHECK = InstanceNorm2d, "check_instancenorm2d"
EXPECT, CAUGHT_BY = "in_wrong_axes", "visible"
