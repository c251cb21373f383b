import torch
from torch import nn
from variants.groupnorm.solution import GroupNorm as Solution


class GroupNorm(Solution):
    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True):
        nn.Module.__init__(self)  # no check that the channels split evenly
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        if affine:
            self.weight = nn.Parameter(torch.ones(num_channels))
            self.bias = nn.Parameter(torch.zeros(num_channels))
        else:
            self.weight, self.bias = None, None


ANSWER, CHECK = GroupNorm, "check_groupnorm"
EXPECT, CAUGHT_BY = "gn_no_divisibility_error", "visible"
