"""Mutant: x.var((-1, -2)): torch's default, the unbiased variance."""
import torch
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def forward(self, x):
        if not self.training and self.track_running_stats:
            return super().forward(x)
        super().forward(x)
        y = (x - x.mean((-1, -2), keepdim=True)) / torch.sqrt(x.var((-1, -2), keepdim=True) + self.eps)
        if self.affine:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


ANSWER, CHECK, EXPECT, CAUGHT_BY = InstanceNorm2d, "check_instancenorm2d", "in_unbiased", "visible"
