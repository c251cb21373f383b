"""Mutant: Uses x.std(dims), torch's default (unbiased) estimator."""
import torch
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    @torch.no_grad()
    def adapt(self, x):
        dims = [d for d in range(x.dim()) if self.num_features is None or d != 1]
        self.mean.copy_(x.mean(dims))
        std = x.std(dims)
        self.std.copy_(torch.where(std == 0, torch.ones_like(std), std))
        return self


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "std_unbiased", "visible"
