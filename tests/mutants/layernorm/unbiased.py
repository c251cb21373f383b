import torch
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        dims = tuple(range(-len(self.normalized_shape), 0))
        mean = x.mean(dims, keepdim=True)
        var = x.var(dims, keepdim=True)  # torch's default: unbiased (n - 1)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return x * self.weight + self.bias if self.weight is not None else x


ANSWER, CHECK = LayerNorm, "check_layernorm"
EXPECT, CAUGHT_BY = "ln_unbiased", "visible"
