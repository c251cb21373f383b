import torch
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    @torch.no_grad()
    def adapt(self, x):
        dims = [d for d in range(x.dim()) if self.num_features is None or d != 1]
        self.mean.copy_(x.mean(dims))
        self.std.copy_(x.std(dims, unbiased=False))  # a constant feature gives std 0, then 0/0


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "zero_std_not_handled", "visible"
