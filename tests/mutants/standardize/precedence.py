"""Mutant: x - mean / std without parentheses."""
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    def forward(self, x):
        shape = () if self.num_features is None else (1, -1) + (1,) * (x.dim() - 2)
        return x - self.mean.reshape(shape) / self.std.reshape(shape)


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "norm_precedence", "visible"
