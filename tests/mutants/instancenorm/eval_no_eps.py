"""Mutant: Eval mode divides by sqrt(running_var) without eps."""
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def forward(self, x):
        if self.training or not self.track_running_stats:
            return super().forward(x)
        y = (x - self.running_mean.view(1, -1, 1, 1)) / self.running_var.view(1, -1, 1, 1).sqrt()
        if self.affine:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


ANSWER, CHECK, EXPECT, CAUGHT_BY = InstanceNorm2d, "check_instancenorm2d", "norm_eps_missing", "visible"
