"""Schedules computed with torch, returning 0-d tensors; combine with torch.cumsum and searchsorted."""
import torch


def sched_lin(start, end):
    return lambda pos: torch.lerp(torch.tensor(float(start), dtype=torch.float64),
                                  torch.tensor(float(end), dtype=torch.float64), float(pos))


def sched_cos(start, end):
    return lambda pos: start + (end - start) * (1 - torch.cos(torch.tensor(torch.pi * pos, dtype=torch.float64))) / 2


def combine_scheds(pcts, scheds):
    bounds = torch.cumsum(torch.tensor([0.0] + list(pcts), dtype=torch.float64), 0)

    def _inner(pos):
        idx = int(torch.searchsorted(bounds, torch.tensor(float(pos), dtype=torch.float64), right=True)) - 1
        idx = min(idx, len(scheds) - 1)
        return scheds[idx]((pos - bounds[idx].item()) / (bounds[idx + 1] - bounds[idx]).item())
    return _inner


ANSWER = (sched_lin, sched_cos, combine_scheds)
CHECK = "check_schedules"
