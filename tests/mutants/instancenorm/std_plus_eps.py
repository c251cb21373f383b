"""Mutant: Divides by x.std((2, 3), unbiased=False) + eps."""
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def forward(self, x):
        if not (self.training or not self.track_running_stats):
            return super().forward(x)
        y = super().forward(x)  # updates the running statistics
        mean = x.mean((2, 3), keepdim=True)
        y = (x - mean) / (x.std((2, 3), keepdim=True, unbiased=False) + self.eps)
        if self.affine:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


ANSWER, CHECK = InstanceNorm2d, "check_instancenorm2d"
EXPECT, CAUGHT_BY = "in_eps_outside", "visible"
