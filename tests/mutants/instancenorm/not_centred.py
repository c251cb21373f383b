"""Mutant: Divides x by the std without subtracting the mean first."""
import torch
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def forward(self, x):
        if not (self.training or not self.track_running_stats):
            return super().forward(x)
        super().forward(x)  # updates the running statistics
        var = x.var((2, 3), keepdim=True, unbiased=False)
        y = x / torch.sqrt(var + self.eps)
        if self.affine:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


ANSWER, CHECK = InstanceNorm2d, "check_instancenorm2d"
EXPECT, CAUGHT_BY = "norm_not_centered", "visible"
