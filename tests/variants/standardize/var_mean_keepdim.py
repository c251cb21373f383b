"""Uses torch.var_mean and sqrt; fills zero std with 1."""
import torch
from torch import nn


class Standardize(nn.Module):
    def __init__(self, num_features=None):
        super().__init__()
        self.num_features = num_features
        self.register_buffer("mean", torch.zeros(num_features or ()))
        self.register_buffer("std", torch.ones(num_features or ()))

    def adapt(self, x):
        with torch.no_grad():
            if self.num_features is None:
                var, mean = torch.var_mean(x, correction=0)
            else:
                dims = (0,) + tuple(range(2, x.dim()))
                var, mean = torch.var_mean(x, dim=dims, correction=0)
            std = var.sqrt()
            std[std == 0] = 1
        self.mean, self.std = mean, std  # assigning to a registered buffer name keeps it a buffer

    def forward(self, x):
        if self.num_features is None:
            return (x - self.mean) / self.std
        shape = [1, -1] + [1] * (x.dim() - 2)
        return (x - self.mean.reshape(shape)) / self.std.reshape(shape)


ANSWER = Standardize
CHECK = "check_standardize"
