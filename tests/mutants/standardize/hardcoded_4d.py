"""Mutant: Writes the dims (0, 2, 3) out, which only exist for 4-d input."""
import torch
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    @torch.no_grad()
    def adapt(self, x):
        if self.num_features is None:
            return super().adapt(x)
        self.mean.copy_(x.mean((0, 2, 3)))
        self.std.copy_(x.std((0, 2, 3), unbiased=False))
        return self


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "std_assumes_4d", "visible"
