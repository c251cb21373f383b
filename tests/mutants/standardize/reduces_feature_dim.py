"""Mutant: Reduces over dim 1, the features themselves."""
import torch
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    @torch.no_grad()
    def adapt(self, x):
        if self.num_features is None:
            return super().adapt(x)
        self.mean = x.mean(1)
        std = x.std(1, unbiased=False)
        self.std = torch.where(std == 0, torch.ones_like(std), std)
        return self


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "wrong_axes", "visible"
