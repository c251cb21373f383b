"""The course's one CNN for MNIST, with the variations the lessons compare as arguments.

It is the network of fastai course-v3's ``07_batchnorm`` lesson: five stride-2 convolutions with 8, 16, 32,
64 and 64 filters (the first 5x5, the others 3x3), each followed by an activation and a norm, then an
average over positions and a linear layer to the 10 classes. The spatial size halves at every block:
28 -> 14 -> 7 -> 4 -> 2 -> 1. Weights start from Kaiming's normal initialization, biases from zero.

>>> model = cnn(nn.BatchNorm2d)                           # conv -> BatchNorm -> ReLU, five times
>>> model = cnn(nn.BatchNorm2d, act_first=True)           # conv -> ReLU -> BatchNorm (course-v3's order)
>>> model = cnn(lambda nf, size: nn.LayerNorm([nf, size, size]))   # a norm that needs the activation's shape
"""

from __future__ import annotations

import functools
import math
from typing import Callable

from torch import nn

NFS = (8, 16, 32, 64, 64)


def _is_class(norm) -> bool:
    return isinstance(norm.func if isinstance(norm, functools.partial) else norm, type)


def make_norm(norm, nf: int, size: int) -> nn.Module:
    """``norm(nf)`` for a class (``nn.BatchNorm2d``, ``partial(nn.GroupNorm, 4)`` hands ``nf`` last), else
    ``norm(nf, size)``: a function for norms that need the activation's height and width (LayerNorm)."""
    return norm(nf) if _is_class(norm) else norm(nf, size)


def conv_block(ni: int, nf: int, norm=None, size: int = 0, ks: int = 3, stride: int = 2, bias: bool | None = None,
               act: Callable[[], nn.Module] | None = nn.ReLU, act_first: bool = False) -> nn.Sequential:
    """A convolution, then ``norm`` and ``act`` in the order ``act_first`` says.

    Args:
        ni, nf: input and output channels.
        norm: a norm class or function (see :func:`make_norm`), or None for no norm.
        size: the output's height and width (what a shape-aware norm is built for).
        ks, stride: kernel size and stride; padding ``ks // 2`` keeps "same" alignment.
        bias: the convolution's bias; by default only without a norm. A norm right after the convolution
            subtracts any constant per channel, so a bias there is wasted; after an activation it is not.
        act: the activation's class (None for none).
        act_first: ``conv -> act -> norm`` (course-v3's order) instead of ``conv -> norm -> act``.
    """
    if bias is None:
        bias = norm is None
    layers = [nn.Conv2d(ni, nf, ks, stride=stride, padding=ks // 2, bias=bias)]
    after = [make_norm(norm, nf, size)] if norm is not None else []
    if act is not None:
        after = [act(), *after] if act_first else [*after, act()]
    return nn.Sequential(*layers, *after)


def cnn(norm=None, nfs=NFS, n_out: int = 10, in_size: int = 28, act=nn.ReLU, act_first: bool = False,
        bias: bool | None = None, init: bool = True) -> nn.Sequential:
    """The course's CNN for 1x28x28 images; ``norm`` after each convolution (see :func:`conv_block`).

    Args:
        norm: a norm class (``nn.BatchNorm2d``, your ``BatchNorm2d``), a ``partial`` of one, or a function
            ``norm(nf, size)``; None for no normalization.
        nfs: filters of each stride-2 block.
        act, act_first, bias: as in :func:`conv_block`.
        init: Kaiming-normal weights for the ReLU and zero biases (as course-v3's ``init_cnn``); False keeps
            PyTorch's default initialization.

    Shape:
        Input ``(N, 1, 28, 28)`` (or ``(N, 784)``, reshaped); output ``(N, n_out)`` logits.
    """
    layers, ni, size = [_ToImage(in_size)], 1, in_size
    for i, nf in enumerate(nfs):
        ks = 5 if i == 0 else 3
        size = math.ceil(size / 2)
        layers.append(conv_block(ni, nf, norm, size, ks=ks, bias=bias, act=act, act_first=act_first))
        ni = nf
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ni, n_out))
    if init:
        init_cnn(model)
    return model


class _ToImage(nn.Module):
    """Flat ``(N, 784)`` rows become ``(N, 1, 28, 28)`` images; images pass unchanged."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x):
        return x.view(-1, 1, self.size, self.size) if x.dim() == 2 else x

    def extra_repr(self):
        return f"size={self.size}"


def init_cnn(model: nn.Module) -> nn.Module:
    """Kaiming-normal weights (fan-in, ReLU gain) for convolutions and linear layers, zero biases."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def train_cnn(norm, dls, lr: float, epochs: int = 1, seed: int = 0, cbs=(), opt_func=None, progress: bool = True,
              print_results: bool = False, device=None, **cnn_kwargs):
    """Train a fresh :func:`cnn` with ``norm``: the same initial draws (``seed``) and the same order of training
    batches for every call with the same seed, so runs that differ only in ``norm`` or ``lr`` compare fairly.

    Returns the :class:`~normlab.learner.Learner`; ``learn.metrics.last()["accuracy"]`` is the validation
    accuracy after the last epoch, ``learn.losses`` the training loss of every batch.
    """
    from .learner import SGD, fit_model
    from .seed import set_seed

    set_seed(seed)
    model = cnn(norm, **cnn_kwargs)
    generator = getattr(dls.train, "generator", None)
    if generator is not None:
        generator.manual_seed(seed)
    return fit_model(model, dls, epochs=epochs, lr=lr, cbs=cbs, opt_func=opt_func or SGD,
                     progress=progress, device=device, print_results=print_results)
