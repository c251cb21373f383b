"""Mutant: Sums the instance statistics over the batch instead of averaging them."""
import torch
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def forward(self, x):
        if self.training and self.track_running_stats:
            with torch.no_grad():
                n = x.shape[2] * x.shape[3]
                self.running_mean.lerp_(x.mean((2, 3)).sum(0), self.momentum)
                self.running_var.lerp_((x.var((2, 3), unbiased=False) * n / (n - 1)).sum(0), self.momentum)
        saved, self.track_running_stats = self.track_running_stats, False
        y = super().forward(x) if self.training or not saved else None
        self.track_running_stats = saved
        return y if y is not None else super().forward(x)


ANSWER, CHECK, EXPECT, CAUGHT_BY = InstanceNorm2d, "check_instancenorm2d", "in_running_summed", "visible"
