"""Mutant: Updates running_var with the biased instance variance."""
import torch
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def forward(self, x):
        if self.training and self.track_running_stats:
            with torch.no_grad():
                self.running_mean.lerp_(x.mean((2, 3)).mean(0), self.momentum)
                self.running_var.lerp_(x.var((2, 3), unbiased=False).mean(0), self.momentum)
        if self.training or not self.track_running_stats:
            mean, var = x.mean((2, 3), keepdim=True), x.var((2, 3), keepdim=True, unbiased=False)
        else:
            mean, var = self.running_mean.view(1, -1, 1, 1), self.running_var.view(1, -1, 1, 1)
        y = (x - mean) / torch.sqrt(var + self.eps)
        if self.affine:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


ANSWER, CHECK, EXPECT, CAUGHT_BY = InstanceNorm2d, "check_instancenorm2d", "in_running_biased", "visible"
