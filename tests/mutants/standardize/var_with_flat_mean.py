"""Mutant: Computes the std from x - mean with the (C,) mean not reshaped (it meets the last dim)."""
import torch
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    @torch.no_grad()
    def adapt(self, x):
        dims = [d for d in range(x.dim()) if self.num_features is None or d != 1]
        mean = x.mean(dims)
        std = ((x - mean) ** 2).mean(dims).sqrt()
        self.mean.copy_(mean)
        self.std.copy_(torch.where(std == 0, torch.ones_like(std), std))
        return self


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "norm_broadcast_wrong_dims", "visible"
