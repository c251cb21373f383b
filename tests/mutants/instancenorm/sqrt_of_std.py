"""Mutant: Divides by torch.sqrt(std + eps) where std = x.std(...): the square root taken twice."""
import torch
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def forward(self, x):
        if not (self.training or not self.track_running_stats):
            return super().forward(x)
        super().forward(x)  # updates the running statistics
        std = x.std((2, 3), keepdim=True, unbiased=False)
        y = (x - x.mean((2, 3), keepdim=True)) / torch.sqrt(std + self.eps)
        if self.affine:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


ANSWER, CHECK = InstanceNorm2d, "check_instancenorm2d"
EXPECT, CAUGHT_BY = "norm_sqrt_of_std", "visible"
