"""Mutant: Divides by x.std(unbiased=False) with no eps at all."""
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        dims = tuple(range(-len(self.normalized_shape), 0))
        y = (x - x.mean(dims, keepdim=True)) / x.std(dims, keepdim=True, unbiased=False)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


ANSWER, CHECK = LayerNorm, "check_layernorm"
EXPECT, CAUGHT_BY = "norm_eps_missing", "visible"
