"""``RunningBatchNorm``: BatchNorm for small batches, with the semantics of fastai course-v3 ``07_batchnorm``.

torch has no counterpart, so this module is the ground truth that ``check_running_batchnorm`` compares
learners' answers with. It follows the final version taught in lesson 10 of fastai's course-v3 (the one
with ``step`` and ``dbias`` buffers), written independently and with the decisions below made explicit.

Interface (the exercise mirrors it): ``RunningBatchNorm(nf, mom=0.1, eps=1e-5)`` for ``(N, C, H, W)``
input; parameters ``mults`` (ones) and ``adds`` (zeros) of shape ``(nf, 1, 1)``; buffers ``sums`` and
``sqrs`` of shape ``(1, nf, 1, 1)`` and the scalars ``count``, ``batch``, ``step`` and ``dbias``, all zero at
construction and all in the module's floating dtype (so ``.double()`` converts them, as in fastai).

A training step with a batch of ``bs`` samples:

* ``s`` and ``ss``: per-channel sums of ``x`` and of ``x * x`` over ``(0, 2, 3)``; ``c = x.numel() / nc``.
* ``mom1 = 1 - (1 - mom) / sqrt(bs - 1)``: a bigger batch is more trustworthy, so it moves the running
  sums further (``bs = 2`` gives ``mom1 = mom``).
* ``sums``, ``sqrs`` and ``count`` are linear interpolations (``lerp``) towards ``s``, ``ss`` and ``c``
  with weight ``mom1``; ``dbias = dbias * (1 - mom1) + mom1``; ``batch += bs``; ``step += 1``.

The output, in training and evaluation alike (there is one path; evaluation just skips the update):

* while ``step < 100``, ``sums``, ``sqrs`` and ``count`` are divided by ``dbias`` (Adam-style debiasing of
  averages that started at zero);
* ``means = sums / count``; ``vars = sqrs / count - means ** 2`` (E[x^2] - E[x]^2 of everything seen,
  which, unlike an average of per-batch variances, stays right when batch sizes differ);
* while fewer than 20 samples have been seen (``batch < 20``), ``vars`` is clamped to at least 0.01, so the
  first tiny batches cannot blow activations up;
* ``(x - means) / sqrt(vars + eps) * mults + adds``.

Decisions where fastai's code leaves a behaviour undefined or implicit:

* **Batch size 1 in training raises ``ValueError``** (before any buffer changes). ``mom1`` divides by
  ``sqrt(bs - 1) = 0`` -- fastai's code dies with ``ZeroDivisionError`` -- and no weight makes one sample a
  sensible update of per-channel statistics; ``nn.BatchNorm2d`` refuses a single value per channel in
  training as well. In evaluation a batch of 1 is fine: it only reads the running statistics.
* **Gradients.** Within a training step the output is differentiated through this batch's share of the
  statistics (``s`` and ``ss`` enter ``sums``/``sqrs`` with weight ``mom1``), exactly as in fastai, where
  only the previous step's sums are detached. No graph survives a step: the buffers always hold detached
  values, so ``backward`` of step k never reaches step k-1 and memory does not grow. In evaluation the
  statistics are constants.
* **Debiasing is observable only in the buffers.** ``sums``, ``sqrs`` and ``count`` are biased towards zero
  by the same factor ``dbias``, so the factor cancels in ``means`` and ``vars``: outputs are identical with or
  without the division and with any cut-off step (the fastai forums noticed the same). The buffers and the
  cut-off are kept so that states load from fastai-style modules and the lesson can show why.
* Evaluation before any training step computes 0 / 0 (``count = dbias = 0``), i.e. NaN, as in fastai; it is
  not a defined use of the layer and the check never asks for it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["RunningBatchNorm", "batch_momentum"]


def batch_momentum(mom: float, bs: int) -> float:
    """fastai's batch-size-adjusted momentum ``1 - (1 - mom) / sqrt(bs - 1)``; ``bs`` must be at least 2."""
    if bs < 2:
        raise ValueError(
            f"RunningBatchNorm needs at least 2 samples per batch in training, got a batch of {bs}: its "
            f"momentum 1 - (1 - mom) / sqrt(batch_size - 1) is undefined for a single sample")
    return 1 - (1 - mom) / math.sqrt(bs - 1)


class RunningBatchNorm(nn.Module):
    """Normalizes each channel with running sums of x and x^2 over all samples seen (see the module doc)."""

    def __init__(self, nf: int, mom: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.nf, self.mom, self.eps = nf, mom, eps
        self.mults = nn.Parameter(torch.ones(nf, 1, 1))
        self.adds = nn.Parameter(torch.zeros(nf, 1, 1))
        self.register_buffer("sums", torch.zeros(1, nf, 1, 1))
        self.register_buffer("sqrs", torch.zeros(1, nf, 1, 1))
        self.register_buffer("count", torch.tensor(0.0))
        self.register_buffer("batch", torch.tensor(0.0))
        self.register_buffer("step", torch.tensor(0.0))
        self.register_buffer("dbias", torch.tensor(0.0))

    def extra_repr(self) -> str:
        return f"{self.nf}, mom={self.mom}, eps={self.eps}"

    def _update(self, x: torch.Tensor):
        """One training step's statistics, with this batch's graph; the buffers get detached copies."""
        bs, nc = x.shape[0], x.shape[1]
        mom1 = batch_momentum(self.mom, bs)
        dims = (0, 2, 3)
        s = x.sum(dims, keepdim=True)
        ss = (x * x).sum(dims, keepdim=True)
        c = x.numel() / nc
        # The buffers hold no graph, so these carry only this step's (the gradient goes through s and ss).
        sums = self.sums + mom1 * (s - self.sums)
        sqrs = self.sqrs + mom1 * (ss - self.sqrs)
        count = self.count + mom1 * (c - self.count)
        with torch.no_grad():
            self.sums.copy_(sums)
            self.sqrs.copy_(sqrs)
            self.count.copy_(count)
            self.dbias.copy_(self.dbias * (1 - mom1) + mom1)
            self.batch.add_(bs)
            self.step.add_(1)
        return sums, sqrs, count

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"RunningBatchNorm expects (N, C, H, W) input, got shape {tuple(x.shape)}")
        if self.training:
            sums, sqrs, count = self._update(x)
        else:
            sums, sqrs, count = self.sums, self.sqrs, self.count
        if bool(self.step < 100):
            sums, sqrs, count = sums / self.dbias, sqrs / self.dbias, count / self.dbias
        means = sums / count
        varns = sqrs / count - means * means
        if bool(self.batch < 20):
            varns = varns.clamp_min(0.01)
        return (x - means) / (varns + self.eps).sqrt() * self.mults + self.adds
