from variants.layernorm.solution import LayerNorm as Solution


class LayerNorm(Solution):
    def forward(self, x):
        dims = tuple(range(-len(self.normalized_shape), 0))
        mean = x.mean(dims, keepdim=True)
        std = x.std(dims, keepdim=True, unbiased=False)
        x = (x - mean) / (std + self.eps)  # eps added to the std
        return x * self.weight + self.bias if self.weight is not None else x


ANSWER, CHECK = LayerNorm, "check_layernorm"
EXPECT, CAUGHT_BY = "ln_eps_outside", "visible"
