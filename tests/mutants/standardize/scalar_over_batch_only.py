"""Mutant: With num_features=None takes x.mean(0) / x.std(0): per-position statistics instead of one number."""
import torch
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    @torch.no_grad()
    def adapt(self, x):
        dims = 0 if self.num_features is None else [d for d in range(x.dim()) if d != 1]
        self.mean = x.mean(dims)
        std = x.std(dims, unbiased=False)
        self.std = torch.where(std == 0, torch.ones_like(std), std)
        return self


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "wrong_axes", "visible"
