"""Mutant: Moves the running statistics with momentum * running + (1 - momentum) * new."""
import torch
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def forward(self, x):
        if self.training and self.track_running_stats:
            with torch.no_grad():
                n = x.shape[2] * x.shape[3]
                m = self.momentum
                mean = x.mean((2, 3)).mean(0)
                var = x.var((2, 3), unbiased=False).mean(0) * n / (n - 1)
                self.running_mean.copy_(m * self.running_mean + (1 - m) * mean)
                self.running_var.copy_(m * self.running_var + (1 - m) * var)
        if self.training or not self.track_running_stats:
            mean = x.mean((2, 3), keepdim=True)
            var = x.var((2, 3), keepdim=True, unbiased=False)
        else:
            mean = self.running_mean.view(1, -1, 1, 1)
            var = self.running_var.view(1, -1, 1, 1)
        y = (x - mean) / torch.sqrt(var + self.eps)
        if self.affine:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


ANSWER, CHECK = InstanceNorm2d, "check_instancenorm2d"
EXPECT, CAUGHT_BY = "in_keras_momentum", "visible"
