"""torch.var_mean over the trailing dims, affine applied with torch.addcmul."""
import torch
from torch import nn


class LayerNorm(nn.Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.weight = nn.Parameter(torch.ones(shape)) if elementwise_affine else None
        self.bias = nn.Parameter(torch.zeros(shape)) if elementwise_affine and bias else None

    def forward(self, x):
        dims = [x.dim() - 1 - i for i in range(len(self.normalized_shape))]
        var, mean = torch.var_mean(x, dim=dims, keepdim=True, correction=0)
        y = (x - mean) * torch.rsqrt(var + self.eps)
        if self.weight is None:
            return y
        if self.bias is None:
            return y * self.weight
        return torch.addcmul(self.bias, y, self.weight)


ANSWER = LayerNorm
CHECK = "check_layernorm"
