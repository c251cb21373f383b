"""E[x^2] - E[x]^2, accumulated in float64 (no cancellation trouble), cast back to the input's dtype."""
import torch
from torch import nn


class LayerNorm(nn.Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = [normalized_shape]
        self.normalized_shape, self.eps = torch.Size(normalized_shape), eps
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(self.normalized_shape))
            if bias:
                self.bias = nn.Parameter(torch.zeros(self.normalized_shape))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        k = len(self.normalized_shape)
        flat = x.double().flatten(start_dim=x.dim() - k)
        m1 = flat.mean(-1)
        m2 = (flat * flat).mean(-1)
        inv = (m2 - m1 * m1 + self.eps).rsqrt()
        view = m1.shape + (1,) * k
        y = ((x.double() - m1.view(view)) * inv.view(view)).to(x.dtype)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


ANSWER = LayerNorm
CHECK = "check_layernorm"
