import torch
from torch import nn
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__(normalized_shape, eps, elementwise_affine, bias)
        if elementwise_affine:  # the bias flag is accepted but not honoured
            self.bias = nn.Parameter(torch.zeros(self.normalized_shape))


ANSWER, CHECK = LayerNorm, "check_layernorm"
EXPECT, CAUGHT_BY = "ln_bias_ignored", "hidden"
