import torch
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    @torch.no_grad()
    def adapt(self, x):
        if self.num_features is None:
            return super().adapt(x)
        # reduces over the batch only: per-pixel statistics of shape (C, H, W) instead of per-channel (C,)
        self.mean = x.mean(0)
        std = x.std(0, unbiased=False)
        self.std = torch.where(std == 0, torch.ones_like(std), std)

    def forward(self, x):
        if self.num_features is None:
            return super().forward(x)
        return (x - self.mean) / self.std


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "wrong_axes", "visible"
