"""Mutant: Stores mean and std with keepdim=True."""
import torch
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    @torch.no_grad()
    def adapt(self, x):
        dims = [d for d in range(x.dim()) if self.num_features is None or d != 1]
        self.mean = x.mean(dims, keepdim=True)
        std = x.std(dims, unbiased=False, keepdim=True)
        self.std = torch.where(std == 0, torch.ones_like(std), std)
        return self

    def forward(self, x):
        return (x - self.mean) / self.std


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "std_buffer_shape", "visible"
