"""Reproducible runs: one call seeds every random number generator a lesson uses."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def set_seed(seed: int = 42, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU).

    ``deterministic=True`` also asks torch for deterministic kernels, which makes GPU runs repeatable at
    some cost in speed; CPU runs with the same seed and thread count are repeatable either way.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA devices too
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
