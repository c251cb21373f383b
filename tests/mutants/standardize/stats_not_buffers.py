import torch
from torch import nn


class Standardize(nn.Module):
    def __init__(self, num_features=None):
        super().__init__()
        self.num_features = num_features
        self.mean, self.std = torch.tensor(0.0), torch.tensor(1.0)  # plain attributes, not buffers

    def adapt(self, x):
        dims = [d for d in range(x.dim()) if self.num_features is None or d != 1]
        self.mean = x.mean(dims)
        std = x.std(dims, unbiased=False)
        self.std = torch.where(std == 0, torch.ones_like(std), std)

    def forward(self, x):
        shape = () if self.num_features is None else (1, -1) + (1,) * (x.dim() - 2)
        return (x - self.mean.reshape(shape)) / self.std.reshape(shape)


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "stats_not_buffers", "visible"
