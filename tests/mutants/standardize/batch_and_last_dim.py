"""Mutant: Reduces over (0, -1), "the batch and the positions", which leaves H out of a 4-d batch."""
import torch
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    @torch.no_grad()
    def adapt(self, x):
        dims = (0, -1) if self.num_features is not None and x.dim() > 2 else tuple(
            d for d in range(x.dim()) if self.num_features is None or d != 1)
        self.mean = x.mean(dims)
        std = x.std(dims, unbiased=False)
        self.std = torch.where(std == 0, torch.ones_like(std), std)
        return self


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "wrong_axes", "visible"
