from variants.instancenorm.solution import InstanceNorm2d as Solution


class InstanceNorm2d(Solution):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=False):
        # affine defaults to True, as in BatchNorm2d; nn.InstanceNorm2d defaults to False
        super().__init__(num_features, eps, momentum, affine, track_running_stats)


ANSWER, CHECK = InstanceNorm2d, "check_instancenorm2d"
EXPECT, CAUGHT_BY = "in_affine_default", "visible"
