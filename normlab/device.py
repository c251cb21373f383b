"""Which device to compute on: CUDA, then Apple's MPS, then the CPU; ``NORMLAB_DEVICE`` overrides.
How many CPU threads torch uses: one; ``NORMLAB_THREADS`` overrides."""

from __future__ import annotations

import os

import torch

ENV_VAR = "NORMLAB_DEVICE"
THREADS_VAR = "NORMLAB_THREADS"


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


def set_threads(threads: int | None = None) -> int:
    """Make torch use ``threads`` CPU threads (default: ``$NORMLAB_THREADS``, else 1); returns the number.

    The lessons' networks are small. On a CPU the work of one of their layers is too little to share: waking
    a pool of threads costs about what it saves on an idle machine, and far more when another program holds
    a core (a shared server, Colab's two cores, a second notebook), because the pool then waits for the
    slowest thread. One thread gives the same times alone and steady ones under load. GPU work is unaffected.
    """
    if threads is None:
        wanted = os.environ.get(THREADS_VAR, "").strip() or "1"
        if not wanted.isdigit() or int(wanted) < 1:
            raise ValueError(f"{THREADS_VAR}={wanted!r}: expected a whole number of threads, at least 1")
        threads = int(wanted)
    torch.set_num_threads(threads)
    return torch.get_num_threads()


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
