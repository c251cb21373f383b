"""Mutant: Per-feature statistics of a 4-d batch from x.reshape(C, -1), without moving the channels first."""
import torch
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    @torch.no_grad()
    def adapt(self, x):
        if self.num_features is None or x.dim() == 2:
            return super().adapt(x)
        rows = x.reshape(self.num_features, -1)  # one row per channel, I thought
        self.mean.copy_(rows.mean(1))
        std = rows.std(1, unbiased=False)
        self.std.copy_(torch.where(std == 0, torch.ones_like(std), std))
        return self


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "std_channels_scrambled", "visible"
