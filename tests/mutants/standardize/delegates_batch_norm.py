"""Mutant: the lesson's Standardize whose forward is F.batch_norm in eval mode with the stored statistics and
eps=0 -- (x - mean) / sqrt(std**2), exact, but torch's normalization."""
import torch.nn.functional as F
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    def forward(self, x):
        if self.num_features is None:
            return F.batch_norm(x.reshape(1, -1), self.mean.reshape(1), (self.std ** 2).reshape(1),
                                training=False, eps=0.0).reshape(x.shape)
        return F.batch_norm(x, self.mean, self.std ** 2, training=False, eps=0.0)


ANSWER = Standardize
CHECK = "check_standardize"
EXPECT = "std_delegates_to_torch"
CAUGHT_BY = "visible"
