import torch
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    seen = None

    @torch.no_grad()
    def adapt(self, x):
        # keeps every batch it was ever given: a second adapt() mixes old and new data
        self.seen = x if self.seen is None else torch.cat([self.seen, x])
        return super().adapt(self.seen)


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "adapt_accumulates", "visible"
