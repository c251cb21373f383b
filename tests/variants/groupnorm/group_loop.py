"""One group at a time: torch.chunk along the channels, normalize each slice, concatenate back."""
import torch
from variants.groupnorm.solution import GroupNorm as Solution


class GroupNorm(Solution):
    def forward(self, x):
        pieces = []
        for part in torch.chunk(x, self.num_groups, dim=1):
            dims = tuple(range(1, part.dim()))
            var, mean = torch.var_mean(part, dim=dims, keepdim=True, unbiased=False)
            pieces.append((part - mean) / (var + self.eps).sqrt())
        y = torch.cat(pieces, dim=1)
        if self.affine:
            w = self.weight[(None, slice(None)) + (None,) * (x.dim() - 2)]
            b = self.bias[(None, slice(None)) + (None,) * (x.dim() - 2)]
            y = y * w + b
        return y


ANSWER = GroupNorm
CHECK = "check_groupnorm"
