import torch
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False):
        super().__init__(num_features, eps, momentum, affine, True)  # always keeps running statistics
        self.track_running_stats = track_running_stats

    def forward(self, x):
        if self.training and not self.track_running_stats:
            with torch.no_grad():
                self.running_mean.lerp_(x.mean((2, 3)).mean(0), self.momentum)
                self.running_var.lerp_(x.var((2, 3), unbiased=True).mean(0), self.momentum)
        return super().forward(x)


ANSWER, CHECK = InstanceNorm2d, "check_instancenorm2d"
EXPECT, CAUGHT_BY = "in_tracks_untracked", "visible"
