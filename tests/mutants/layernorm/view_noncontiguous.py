import torch
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        k = len(self.normalized_shape)
        flat = x.view(*x.shape[:-k], -1)  # .view fails when the normalized dims are not contiguous
        mean = flat.mean(-1, keepdim=True)
        var = flat.var(-1, keepdim=True, unbiased=False)
        x = ((flat - mean) / torch.sqrt(var + self.eps)).view(x.shape)
        if self.weight is not None:
            x = x * self.weight
        if self.bias is not None:
            x = x + self.bias
        return x


ANSWER, CHECK = LayerNorm, "check_layernorm"
EXPECT, CAUGHT_BY = "ln_view_noncontiguous", "hidden"
