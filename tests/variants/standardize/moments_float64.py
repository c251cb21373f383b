"""Moves features to the last axis, accumulates E[x] and E[x^2] in float64."""
import torch
from torch import nn


class Standardize(nn.Module):
    def __init__(self, num_features=None):
        super().__init__()
        self.per_feature = num_features is not None
        n = num_features or 1
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("std", torch.ones(n))

    def adapt(self, x):
        flat = x.detach().double()
        flat = flat.movedim(1, -1).reshape(-1, flat.shape[1]) if self.per_feature else flat.reshape(-1, 1)
        m1, m2 = flat.mean(0), (flat * flat).mean(0)
        std = (m2 - m1 * m1).clamp_min(0).sqrt()
        std = torch.where(std < 1e-12, torch.ones_like(std), std)
        self.mean = m1.to(x.dtype)
        self.std = std.to(x.dtype)

    def forward(self, x):
        if not self.per_feature:
            return (x - self.mean[0]) / self.std[0]
        return ((x.movedim(1, -1) - self.mean) / self.std).movedim(-1, 1)


ANSWER = Standardize
CHECK = "check_standardize"
