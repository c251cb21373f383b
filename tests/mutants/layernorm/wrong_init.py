import torch
from torch import nn
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__(normalized_shape, eps, elementwise_affine, bias)
        if self.bias is not None:
            self.bias = nn.Parameter(torch.ones(self.normalized_shape))  # copy-pasted from the weight line


ANSWER, CHECK = LayerNorm, "check_layernorm"
EXPECT, CAUGHT_BY = "ln_wrong_init", "visible"
