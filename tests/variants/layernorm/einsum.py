"""Sums as einsum contractions against a vector of ones, on the (..., K) flattened view."""
import torch
from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        k = len(self.normalized_shape)
        flat = x.reshape(*x.shape[: x.dim() - k], -1)
        n = flat.shape[-1]
        ones = flat.new_ones(n)
        mean = torch.einsum("...k,k->...", flat, ones) / n
        centred = flat - mean.unsqueeze(-1)
        var = torch.einsum("...k,...k->...", centred, centred) / n
        y = (centred / torch.sqrt(var + self.eps).unsqueeze(-1)).reshape(x.shape)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


ANSWER = LayerNorm
CHECK = "check_layernorm"
