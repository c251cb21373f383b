"""Which device to compute on: CUDA, then Apple's MPS, then the CPU; ``NORMLAB_DEVICE`` overrides."""

from __future__ import annotations

import os

import torch

ENV_VAR = "NORMLAB_DEVICE"


def default_device() -> torch.device:
    """The best device available, unless ``$NORMLAB_DEVICE`` names one (e.g. ``cpu`` to compare timings).

    An override naming a device this machine lacks is an error rather than a silent fallback: a lesson
    that says it runs on ``cuda`` must not quietly run on the CPU.
    """
    wanted = os.environ.get(ENV_VAR, "").strip()
    if wanted:
        device = torch.device(wanted)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"{ENV_VAR}={wanted!r} but CUDA is not available on this machine")
        if device.type == "mps" and not _mps_available():
            raise RuntimeError(f"{ENV_VAR}={wanted!r} but MPS is not available on this machine")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def to_device(x, device: torch.device | str | None = None):
    """Move a tensor, or a list/tuple/dict of them, to ``device`` (default: ``default_device()``)."""
    device = default_device() if device is None else device
    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, dict):
        return {k: to_device(v, device) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_device(v, device) for v in x)
    return x
