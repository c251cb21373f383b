"""InstanceNorm as BatchNorm over (1, N*C, H, W); running statistics are the BN update averaged over N."""
import torch
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def forward(self, x):
        n, c, h, w = x.shape
        if self.training or not self.track_running_stats:
            xb = x.reshape(1, n * c, h, w)
            mean = xb.mean((0, 2, 3), keepdim=True)
            var = xb.var((0, 2, 3), keepdim=True, unbiased=False)
            y = ((xb - mean) / (var + self.eps).sqrt()).reshape(n, c, h, w)
            if self.training and self.track_running_stats:
                with torch.no_grad():
                    unbiased = var * (h * w) / (h * w - 1)
                    m = self.momentum
                    self.running_mean.mul_(1 - m).add_(m * mean.reshape(n, c).mean(0))
                    self.running_var.mul_(1 - m).add_(m * unbiased.reshape(n, c).mean(0))
        else:
            y = (x - self.running_mean[:, None, None]) / (self.running_var[:, None, None] + self.eps).sqrt()
        if self.affine:
            y = y * self.weight[:, None, None] + self.bias[:, None, None]
        return y


ANSWER = InstanceNorm2d
CHECK = "check_instancenorm2d"
