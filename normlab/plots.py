"""Plotting helpers: small, titled and labelled matplotlib figures that lessons share."""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
from matplotlib import ticker
import numpy as np
import torch


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def subplots(n: int, ncols: int = 3, size: float = 3.5, **kwargs):
    """``n`` axes in a grid of ``ncols`` columns (extra axes hidden); returns ``(fig, flat list of axes)``."""
    nrows = math.ceil(n / ncols)
    ncols = min(n, ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 0.8), squeeze=False, **kwargs)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def show_images(images, labels: Sequence | None = None, ncols: int = 8, title: str | None = None, size=1.2):
    """A grid of (N, 28, 28) or (N, 1, 28, 28) images, each titled with its label."""
    images = _np(images)
    if images.ndim == 4:
        images = images[:, 0]
    fig, axes = subplots(len(images), ncols=ncols, size=size)
    for i, ax in enumerate(axes):
        ax.imshow(images[i], cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
        if labels is not None:
            ax.set_title(str(_np(labels[i]).item()), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_histograms(named_values: dict, bins: int = 60, title: str | None = None, xlabel: str = "value",
                    log: bool = False):
    """Side-by-side histograms of several tensors/arrays, with each one's mean and std in its title.

    ``log`` puts the counts on a log scale, so that a spike (e.g. MNIST's black background) does not hide
    the rest of the distribution."""
    fig, axes = subplots(len(named_values), ncols=len(named_values), size=4)
    for ax, (name, values) in zip(axes, named_values.items()):
        v = _np(values).ravel()
        ax.hist(v, bins=bins, color="tab:blue", log=log, histtype="stepfilled")  # one patch, not one per bar
        ax.set_title(f"{name}\nmean {v.mean():.3f}, std {v.std():.3f}", fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("count (log scale)" if log else "count")
        if log:  # plain labels (1, 10, 100, 1,000, ...): matplotlib's 10^k labels load its math-text parser
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
            ax.yaxis.set_minor_locator(ticker.NullLocator())  # no minor ticks: 8 per decade, each slow to lay out
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(history: list[dict], metric: str = "accuracy", label: str | None = None, ax=None):
    """Validation ``metric`` per epoch from ``MetricsCB.history``."""
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    rows = [r for r in history if not r["train"]]
    ax.plot([r["epoch"] + 1 for r in rows], [r[metric] for r in rows], marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {metric}")
    ax.set_title(f"validation {metric} per epoch")
    if label:
        ax.legend()
    return ax


def plot_losses(losses: Sequence[float], label: str | None = None, ax=None, smooth: int = 1):
    """Training loss per batch, optionally smoothed by a moving average over ``smooth`` batches."""
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    y = np.asarray(losses, dtype=float)
    if smooth > 1 and len(y) >= smooth:
        y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
    ax.plot(y, label=label)
    ax.set_xlabel("batch")
    ax.set_ylabel("training loss")
    ax.set_title("training loss")
    if label:
        ax.legend()
    return ax


def shared_statistics(layer, shape=(4, 6, 5)) -> torch.Tensor:
    """For each element of an (N, C, L) input, the index of its normalization group, read from ``layer``.

    Raising one element changes the mean and variance of its group, and therefore the output of exactly
    the elements normalized with those statistics (and of no other). So each element's group is the set
    of outputs that move when it moves; we number the groups in order of first appearance.
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    with torch.no_grad():
        base = layer(x)
        flat_ids = torch.full((x.numel(),), -1, dtype=torch.long)
        n_groups = 0
        for i in range(x.numel()):
            if flat_ids[i] >= 0:
                continue
            bumped = x.clone().view(-1)
            bumped[i] += 1.0
            moved = (layer(bumped.view(shape)) - base).abs().view(-1) > 1e-9
            flat_ids[moved] = n_groups
            n_groups += 1
    return flat_ids.view(shape)


def plot_groups(named_ids: dict, title: str):
    """One panel per layer: rows are channels c, columns the H*W positions of sample 0, 1, 2, ... side by side."""
    fig, axes = plt.subplots(1, len(named_ids), figsize=(3.6 * len(named_ids), 3.1))
    for ax, (name, ids) in zip(np.atleast_1d(axes), named_ids.items()):
        n, c, length = ids.shape
        picture = np.full((c, n * (length + 1) - 1), np.nan)
        for i in range(n):
            picture[:, i * (length + 1): i * (length + 1) + length] = ids[i].numpy()
        ax.imshow(picture, cmap="tab20", vmin=0, vmax=max(19, int(ids.max())), aspect="auto")
        ax.set_title(f"{name}: {int(ids.max()) + 1} groups of {ids.numel() // (int(ids.max()) + 1)}")
        ax.set_xticks([i * (length + 1) + (length - 1) / 2 for i in range(n)], [f"n={i}" for i in range(n)])
        ax.set_xlabel("sample n (its H*W positions flattened)")
        ax.set_ylabel("channel c")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
