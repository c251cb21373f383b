"""Mutant: the lesson's LayerNorm with a forward that hands the work to F.layer_norm (exact, but not by hand)."""
import torch.nn.functional as F
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


ANSWER = LayerNorm
CHECK = "check_layernorm"
EXPECT = "ln_delegates_to_torch"
CAUGHT_BY = "visible"
