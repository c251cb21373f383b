"""Mutant: Normalizes over the first len(normalized_shape) dims instead of the last ones."""
import torch
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        dims = tuple(range(len(self.normalized_shape)))
        mean = x.mean(dims, keepdim=True)
        var = x.var(dims, keepdim=True, unbiased=False)
        y = (x - mean) / torch.sqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


ANSWER, CHECK = LayerNorm, "check_layernorm"
EXPECT, CAUGHT_BY = "ln_leading_dims", "visible"
