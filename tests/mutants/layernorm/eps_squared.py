"""Mutant: sqrt(var + eps ** 2): eps squared."""
import torch
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        dims = tuple(range(-len(self.normalized_shape), 0))
        var = x.var(dims, keepdim=True, unbiased=False)
        y = (x - x.mean(dims, keepdim=True)) / torch.sqrt(var + self.eps ** 2)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


ANSWER, CHECK, EXPECT, CAUGHT_BY = LayerNorm, "check_layernorm", "norm_eps_value", "visible"
