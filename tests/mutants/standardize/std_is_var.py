import torch
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    @torch.no_grad()
    def adapt(self, x):
        dims = [d for d in range(x.dim()) if self.num_features is None or d != 1]
        self.mean.copy_(x.mean(dims))
        var = x.var(dims, unbiased=False)
        self.std.copy_(torch.where(var == 0, torch.ones_like(var), var))


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "std_is_var", "visible"
