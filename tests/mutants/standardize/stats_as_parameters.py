import torch
from torch import nn
from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    def __init__(self, num_features=None):
        nn.Module.__init__(self)
        self.num_features = num_features
        shape = () if num_features is None else (num_features,)
        self.mean = nn.Parameter(torch.zeros(shape), requires_grad=False)
        self.std = nn.Parameter(torch.ones(shape), requires_grad=False)


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "stats_as_parameters", "visible"
