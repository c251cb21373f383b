import torch
from torch import nn
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__(normalized_shape, eps, elementwise_affine, bias)
        if elementwise_affine:  # the study sheet's version: one multiplier and one offset for everything
            self.weight = nn.Parameter(torch.tensor(1.0))
            self.bias = nn.Parameter(torch.tensor(0.0)) if bias else None


ANSWER, CHECK = LayerNorm, "check_layernorm"
EXPECT, CAUGHT_BY = "ln_scalar_affine", "visible"
