"""GroupNorm as BatchNorm in disguise: (N, C, *) -> (1, N*G, -1), per-"channel" statistics over (0, 2)."""
import torch
from variants.groupnorm.solution import GroupNorm as Solution


def batch_stats(x, eps):
    """What BatchNorm computes in training for a (N, C, L) input, written out."""
    mean = x.mean((0, 2), keepdim=True)
    var = ((x - mean) ** 2).mean((0, 2), keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


class GroupNorm(Solution):
    def forward(self, x):
        n = x.shape[0]
        y = batch_stats(x.reshape(1, n * self.num_groups, -1), self.eps).reshape(x.shape)
        if not self.affine:
            return y
        shape = [1, -1] + [1] * (x.dim() - 2)
        return y * self.weight.view(shape) + self.bias.view(shape)


ANSWER = GroupNorm
CHECK = "check_groupnorm"
