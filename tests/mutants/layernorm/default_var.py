"""Mutant: Uses x.var(dims, keepdim=True), torch's default (unbiased) variance."""
import torch
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        dims = tuple(range(-len(self.normalized_shape), 0))
        y = (x - x.mean(dims, keepdim=True)) / torch.sqrt(x.var(dims, keepdim=True) + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


ANSWER, CHECK = LayerNorm, "check_layernorm"
EXPECT, CAUGHT_BY = "ln_unbiased", "visible"
