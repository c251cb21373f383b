"""Mutant: x.std(dims) ** 2: the unbiased variance."""
import torch
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        dims = tuple(range(-len(self.normalized_shape), 0))
        y = (x - x.mean(dims, keepdim=True)) / torch.sqrt(x.std(dims, keepdim=True) ** 2 + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


ANSWER, CHECK, EXPECT, CAUGHT_BY = LayerNorm, "check_layernorm", "ln_unbiased", "visible"
