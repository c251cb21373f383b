"""PyTorch ships this very procedure: torch.optim.swa_utils.update_bn (made for SWA's averaged weights)."""

from torch.optim.swa_utils import update_bn

CHECK = "check_recompute_bn_stats"


def recompute_bn_stats(model, batches):
    update_bn(batches, model)


ANSWER = recompute_bn_stats
