"""Mutant: Normalizes with the (just updated) running statistics in training."""
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def forward(self, x):
        y = super().forward(x)
        if self.training and self.track_running_stats:
            was, self.training = self.training, False
            y = super().forward(x)
            self.training = was
        return y


ANSWER, CHECK, EXPECT, CAUGHT_BY = InstanceNorm2d, "check_instancenorm2d", "in_train_uses_running_stats", "visible"
