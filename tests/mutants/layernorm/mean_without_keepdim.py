"""Mutant: The mean without keepdim=True, the variance with it."""
import torch
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        dims = tuple(range(-len(self.normalized_shape), 0))
        mean = x.mean(dims)
        var = x.var(dims, keepdim=True, unbiased=False)
        y = (x - mean) / torch.sqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


ANSWER, CHECK, EXPECT, CAUGHT_BY = LayerNorm, "check_layernorm", "norm_broadcast_wrong_dims", "visible"
