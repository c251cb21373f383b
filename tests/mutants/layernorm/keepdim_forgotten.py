"""Mutant: Reduces without keepdim=True, so the statistics broadcast against the wrong dims."""
import torch
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        dims = tuple(range(-len(self.normalized_shape), 0))
        mean = x.mean(dims)
        var = x.var(dims, unbiased=False)
        y = (x - mean) / torch.sqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


ANSWER, CHECK = LayerNorm, "check_layernorm"
EXPECT, CAUGHT_BY = "norm_broadcast_wrong_dims", "visible"
