"""Mutant: the lesson's GroupNorm with a forward that hands the work to F.group_norm (exact, but not by hand)."""
import torch.nn.functional as F
from variants.groupnorm.solution import GroupNorm as Solution


class GroupNorm(Solution):
    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)


ANSWER = GroupNorm
CHECK = "check_groupnorm"
EXPECT = "gn_delegates_to_torch"
CAUGHT_BY = "visible"
