import torch
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        # copied from BatchNorm: statistics per channel (images) or per feature (sequences) across the batch
        dims = (0, 2, 3) if x.dim() == 4 else tuple(range(x.dim() - 1))
        mean = x.mean(dims, keepdim=True)
        var = x.var(dims, keepdim=True, unbiased=False)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return x * self.weight + self.bias if self.weight is not None else x


ANSWER, CHECK = LayerNorm, "check_layernorm"
EXPECT, CAUGHT_BY = "ln_batch_axis", "visible"
