"""Mutant: forward divides by the (C,) buffers as they are, which line up with the last dim of a 4-d batch."""
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    def forward(self, x):
        return (x - self.mean) / self.std


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "norm_broadcast_wrong_dims", "visible"
