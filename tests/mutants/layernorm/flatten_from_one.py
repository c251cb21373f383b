"""Mutant: x.flatten(1): every dim but the batch, whatever normalized_shape."""
import torch
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        flat = x.flatten(1)
        mean = flat.mean(1, keepdim=True)
        var = flat.var(1, keepdim=True, unbiased=False)
        y = ((flat - mean) / torch.sqrt(var + self.eps)).view_as(x)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


ANSWER, CHECK, EXPECT, CAUGHT_BY = LayerNorm, "check_layernorm", "ln_wrong_dims", "visible"
