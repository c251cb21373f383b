"""A pure function (no F.batch_norm) that returns the new running statistics, and a thin module."""

import torch
from torch import nn

CHECK = "check_batchnorm2d"


def batch_norm(x, running, weight, bias, training, factor, eps):
    """Normalize x; return (y, new running (mean, unbiased var)) or (y, None) when nothing to update."""
    dims = (0, 2, 3)
    use_batch = training or running is None
    if use_batch:
        mean = x.mean(dims, keepdim=True)
        var = x.var(dims, keepdim=True, unbiased=False)
    else:
        mean, var = running[0].view(1, -1, 1, 1), running[1].view(1, -1, 1, 1)
    y = (x - mean) * (var + eps) ** -0.5
    if weight is not None:
        y = torch.addcmul(bias.view(1, -1, 1, 1), y, weight.view(1, -1, 1, 1))
    if not (training and running is not None):
        return y, None
    unbiased = x.detach().var(dims, unbiased=True)
    new_mean = (1 - factor) * running[0] + factor * mean.detach().flatten()
    return y, (new_mean, (1 - factor) * running[1] + factor * unbiased)


class BatchNorm2d(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        self.eps, self.momentum, self.track_running_stats = eps, momentum, track_running_stats
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        buffers = dict(running_mean=torch.zeros(num_features), running_var=torch.ones(num_features),
                       num_batches_tracked=torch.tensor(0, dtype=torch.long))
        for name, value in buffers.items():
            self.register_buffer(name, value if track_running_stats else None)

    def forward(self, x):
        running = (self.running_mean, self.running_var) if self.track_running_stats else None
        factor = 0.0
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = self.momentum if self.momentum is not None else 1.0 / self.num_batches_tracked.item()
        y, new = batch_norm(x, running, self.weight, self.bias, self.training, factor, self.eps)
        if new is not None:
            self.running_mean.copy_(new[0])
            self.running_var.copy_(new[1])
        return y


ANSWER = BatchNorm2d
