"""Mutant: Stores torch.sqrt(x.std(...)): a square root too many."""
import torch
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    @torch.no_grad()
    def adapt(self, x):
        super().adapt(x)
        self.std.copy_(torch.sqrt(self.std))  # std is the square root of the spread
        return self


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "norm_sqrt_of_std", "visible"
