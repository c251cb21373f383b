"""Mutant: the lesson's InstanceNorm2d with a forward that hands the work, running statistics included, to
F.instance_norm (exact, but not by hand)."""
import torch.nn.functional as F
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def forward(self, x):
        use_input = self.training or not self.track_running_stats
        return F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_input,
                               self.momentum, self.eps)


ANSWER = InstanceNorm2d
CHECK = "check_instancenorm2d"
EXPECT = "in_delegates_to_torch"
CAUGHT_BY = "visible"
