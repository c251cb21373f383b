import torch
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def forward(self, x):
        if not self.training and self.track_running_stats:
            return super().forward(x)
        mean = x.mean((2, 3), keepdim=True)
        var = x.var((2, 3), keepdim=True)  # unbiased by default
        if self.training and self.track_running_stats:
            with torch.no_grad():
                self.running_mean.lerp_(mean.mean(0).flatten(), self.momentum)
                self.running_var.lerp_(var.mean(0).flatten(), self.momentum)
        x = (x - mean) / torch.sqrt(var + self.eps)
        if self.affine:
            x = x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return x


ANSWER, CHECK = InstanceNorm2d, "check_instancenorm2d"
EXPECT, CAUGHT_BY = "in_unbiased", "visible"
