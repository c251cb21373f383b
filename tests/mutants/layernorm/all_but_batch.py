"""Mutant: Normalizes over every dim but the first, whatever normalized_shape says."""
import torch
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        dims = tuple(range(1, x.dim()))
        mean = x.mean(dims, keepdim=True)
        var = x.var(dims, keepdim=True, unbiased=False)
        y = (x - mean) / torch.sqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


ANSWER, CHECK = LayerNorm, "check_layernorm"
EXPECT, CAUGHT_BY = "ln_wrong_dims", "visible"
