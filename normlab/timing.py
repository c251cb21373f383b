"""Timing that compares fairly: the functions take turns call by call, so that a busy machine slows all alike."""

from __future__ import annotations

import statistics
import time
from typing import Callable, Sequence

import torch


def median_ms(fns: Sequence[Callable[[], object]], repeats: int = 20, warmup: int = 3,
              warmup_seconds: float = 0.0) -> list[float]:
    """Median milliseconds per call of each function of ``fns``, called in turns, ``repeats`` times each.

    First come ``warmup`` untimed rounds, and more until ``warmup_seconds`` have passed: the first calls
    pay for lazy initialization, caches and memory touched for the first time. Work queued on a GPU is
    waited for, so that a call's time includes it.
    """
    def call(fn):
        fn()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()

    start, rounds = time.perf_counter(), 0
    while rounds < warmup or time.perf_counter() - start < warmup_seconds:
        for fn in fns:
            call(fn)
        rounds += 1
    times = [[] for _ in fns]
    for _ in range(repeats):
        for spent, fn in zip(times, fns):
            t0 = time.perf_counter()
            call(fn)
            spent.append(time.perf_counter() - t0)
    return [statistics.median(spent) * 1e3 for spent in times]
