"""Mutant: Applies weight and bias to x, then normalizes."""
import torch
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        dims = tuple(range(-len(self.normalized_shape), 0))
        if self.weight is not None:
            x = x * self.weight
        if self.bias is not None:
            x = x + self.bias
        mean = x.mean(dims, keepdim=True)
        var = x.var(dims, keepdim=True, unbiased=False)
        y = (x - mean) / torch.sqrt(var + self.eps)
        return y
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


ANSWER, CHECK, EXPECT, CAUGHT_BY = LayerNorm, "check_layernorm", "norm_affine_before_normalize", "visible"
