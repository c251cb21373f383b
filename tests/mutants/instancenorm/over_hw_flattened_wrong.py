"""Mutant: x.reshape(N, -1, C) and statistics over dim 1: the channels mixed up."""
import torch
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def forward(self, x):
        if not self.training and self.track_running_stats:
            return super().forward(x)
        super().forward(x)
        n, c, h, w = x.shape
        flat = x.reshape(n, -1, c)
        var = flat.var(1, keepdim=True, unbiased=False)
        y = ((flat - flat.mean(1, keepdim=True)) / torch.sqrt(var + self.eps)).reshape(x.shape)
        if self.affine:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


ANSWER, CHECK, EXPECT, CAUGHT_BY = InstanceNorm2d, "check_instancenorm2d", "in_wrong_axes", "visible"
