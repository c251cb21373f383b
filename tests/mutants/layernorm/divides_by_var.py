"""Mutant: Divides by var + eps: the square root forgotten."""
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        dims = tuple(range(-len(self.normalized_shape), 0))
        mean = x.mean(dims, keepdim=True)
        var = x.var(dims, keepdim=True, unbiased=False)
        y = (x - mean) / (var + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


ANSWER, CHECK = LayerNorm, "check_layernorm"
EXPECT, CAUGHT_BY = "norm_missing_sqrt", "visible"
