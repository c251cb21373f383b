"""Mutant: Multiplies by the (C,) weight as it is: it lines up with W."""
from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def forward(self, x):
        affine, self.affine = self.affine, False
        y = super().forward(x)
        self.affine = affine
        return y * self.weight + self.bias if affine else y


ANSWER, CHECK, EXPECT, CAUGHT_BY = InstanceNorm2d, "check_instancenorm2d", "norm_broadcast_wrong_dims", "visible"
