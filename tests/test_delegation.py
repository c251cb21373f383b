"""Written by hand means written by hand: an answer that hands its exercise to torch's own implementation (or to
the course's reference) fails -- in the visible check already, and in the thorough one -- with its exercise's
``*_delegates_to_torch`` mistake, whatever route it takes; honest answers (the lessons' solutions, the corpus'
variants) still pass.

Routes, per exercise where they apply: torch.nn.functional (``F.*``), ``torch.*``, ``torch.ops.aten.*``, a torch
norm layer as base class or held inside (or its forward borrowed), the course's reference
(``autograder.references``, RunningBatchNorm only: it is the only one), ``torch.nn.utils.fusion`` (the fold only),
and routes that bypass the Python function layer (TorchScript, ``torch._C.DisableTorchFunction``), which only
the dispatch mode sees. ``tests/mutants/*/delegates_*.py`` holds one route per exercise for the corpus too.
"""

import io
import json
import sys
import warnings
from contextlib import redirect_stdout
from pathlib import Path
from typing import Optional

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import fusion

from autograder import checks
from autograder.checks import CATALOGUE, CheckFailure, _core
from autograder.references import RunningBatchNorm as Reference
from autograder.references.running_batchnorm import batch_momentum
from variants.backward.compact import BatchNormFunction as HonestFunction
from variants.batchnorm.lerp_1d import BatchNorm1d as Honest1d
from variants.batchnorm.var_mean_2d import BatchNorm2d as Honest2d
from variants.groupnorm.solution import GroupNorm as HonestGN
from variants.instancenorm.solution import InstanceNorm2d as HonestIN
from variants.layernorm.solution import LayerNorm as HonestLN
from variants.running.solution import RunningBatchNorm as HonestRBN
from variants.standardize.solution import Standardize as HonestStd

ROOT = Path(__file__).resolve().parents[1]
KEYS = {
    "check_batchnorm1d": "bn_delegates_to_torch",
    "check_batchnorm2d": "bn_delegates_to_torch",
    "check_layernorm": "ln_delegates_to_torch",
    "check_instancenorm2d": "in_delegates_to_torch",
    "check_groupnorm": "gn_delegates_to_torch",
    "check_standardize": "std_delegates_to_torch",
    "check_running_batchnorm": "rbn_delegates_to_torch",
    "check_batchnorm_backward": "bn_backward_delegates_to_torch",
    "check_batchnorm_inference": "bn_inference_delegates_to_torch",
    "check_fold_bn": "fold_delegates_to_torch",
}
ROUTES: list[tuple[str, str, object]] = []


def route(check: str, name: str):
    def register(answer):
        ROUTES.append((check, name, answer))
        return answer
    return register


def no_torch_function(fn, *args, **kwargs):
    """Call ``fn`` with torch's function layer switched off: only the dispatch mode sees the kernel then."""
    with torch._C.DisableTorchFunction():
        return fn(*args, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# BatchNorm1d / BatchNorm2d: an honest layer's buffers and parameters, with the normalization handed over.
class _Functional2d(Honest2d):
    """Computes the factor as torch's module does, then lets ``self.kernel`` normalize."""

    def forward(self, x):
        factor = 0.0
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        use_batch = self.training or not self.track_running_stats
        return self.kernel(x, self.running_mean, self.running_var, self.weight, self.bias, use_batch, factor,
                           self.eps)


for _name, _kernel in {
    "F.batch_norm": lambda x, rm, rv, w, b, t, f, eps: F.batch_norm(x, rm, rv, w, b, t, f, eps),
    "torch.batch_norm": lambda x, rm, rv, w, b, t, f, eps: torch.batch_norm(x, w, b, rm, rv, t, f, eps, False),
    "torch.native_batch_norm": lambda x, rm, rv, w, b, t, f, eps: torch.native_batch_norm(x, w, b, rm, rv, t, f,
                                                                                         eps)[0],
    "aten.native_batch_norm": lambda x, rm, rv, w, b, t, f, eps: torch.ops.aten.native_batch_norm.default(
        x, w, b, rm, rv, t, f, eps)[0],
    "aten._native_batch_norm_legit": lambda x, rm, rv, w, b, t, f, eps: (
        torch.ops.aten._native_batch_norm_legit(x, w, b, rm, rv, t, f, eps) if rm is not None else
        torch.ops.aten._native_batch_norm_legit.no_stats(x, w, b, t, f, eps))[0],
    "F.instance_norm": lambda x, rm, rv, w, b, t, f, eps: F.instance_norm(
        x.transpose(0, 1).reshape(1, x.shape[1], -1), None, None, None, None, True, 0.0, eps
    ).reshape(x.shape[1], x.shape[0], *x.shape[2:]).transpose(0, 1),
    "DisableTorchFunction": lambda *args: no_torch_function(F.batch_norm, *args),
}.items():
    route("check_batchnorm2d", _name)(type("BatchNorm2d", (_Functional2d,), {"kernel": staticmethod(_kernel)}))


def _scripted(x: torch.Tensor, rm: Optional[torch.Tensor], rv: Optional[torch.Tensor], w: Optional[torch.Tensor],
              b: Optional[torch.Tensor], training: bool, factor: float, eps: float) -> torch.Tensor:
    return F.batch_norm(x, rm, rv, w, b, training, factor, eps)


@route("check_batchnorm2d", "TorchScript")
class BatchNorm2d(_Functional2d):
    @staticmethod
    def kernel(*args):
        """F.batch_norm inside TorchScript: the interpreter calls the aten operator, no Python function."""
        if not hasattr(_scripted, "compiled"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.script is deprecated
                _scripted.compiled = torch.jit.script(_scripted)
        return _scripted.compiled(*args)


@route("check_batchnorm2d", "catches what it calls")
class BatchNorm2d(Honest2d):  # noqa: F811 - one class per route
    """Calls F.batch_norm and throws the result away: what the answer does, not what it returns, counts."""

    def forward(self, x):
        try:
            F.batch_norm(x.detach(), None, None, training=True)
        except Exception:  # noqa: BLE001
            pass
        return super().forward(x)


@route("check_batchnorm2d", "subclass nn.BatchNorm2d")
class BatchNorm2d(nn.BatchNorm2d):  # noqa: F811
    pass


@route("check_batchnorm2d", "subclass _BatchNorm")
class BatchNorm2d(nn.modules.batchnorm._BatchNorm):  # noqa: F811
    def _check_input_dim(self, x):
        pass


@route("check_batchnorm2d", "subclass _NormBase, own forward")
class BatchNorm2d(nn.modules.batchnorm._NormBase):  # noqa: F811
    forward = Honest2d.forward


@route("check_batchnorm2d", "borrows nn.BatchNorm2d.forward")
class BatchNorm2d(Honest2d):  # noqa: F811
    def _check_input_dim(self, x):
        pass

    def forward(self, x):
        return nn.BatchNorm2d.forward(self, x)


@route("check_batchnorm2d", "holds nn.BatchNorm2d")
class BatchNorm2d(nn.Module):  # noqa: F811
    def __init__(self, num_features, **kwargs):
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, **kwargs)

    def forward(self, x):
        return self.bn(x)


@route("check_batchnorm2d", "hides an nn.BatchNorm2d")
class BatchNorm2d(Honest2d):  # noqa: F811
    """Keeps torch's layer out of the module tree and runs it on its own tensors."""

    def forward(self, x):
        bn = nn.BatchNorm2d(x.shape[1], self.eps, self.momentum, self.affine, self.track_running_stats)
        object.__setattr__(bn, "_parameters", dict(self._parameters))
        object.__setattr__(bn, "_buffers", dict(self._buffers))
        bn.train(self.training)
        return bn(x)


@route("check_batchnorm1d", "F.batch_norm")
class BatchNorm1d(Honest1d):
    def forward(self, x):
        return _Functional2d.forward(self, x)

    kernel = staticmethod(F.batch_norm)


@route("check_batchnorm1d", "subclass nn.BatchNorm1d")
class BatchNorm1d(nn.BatchNorm1d):  # noqa: F811
    pass


@route("check_batchnorm1d", "holds nn.BatchNorm1d")
class BatchNorm1d(nn.Module):  # noqa: F811
    def __init__(self, num_features, **kwargs):
        super().__init__()
        self.inner = nn.Sequential(nn.BatchNorm1d(num_features, **kwargs))

    def forward(self, x):
        return self.inner(x)


# ---------------------------------------------------------------------------------------------------------
# LayerNorm, InstanceNorm2d, GroupNorm.
def _layer(base, forward, name):
    return type(name, (base,), {"forward": forward})


def _ln_dims(self):
    return tuple(range(-len(self.normalized_shape), 0))


def _ln_rms(self, x):
    """An exact LayerNorm through F.rms_norm: the RMS of the centred input is the standard deviation."""
    centred = x - x.mean(_ln_dims(self), keepdim=True)
    y = F.rms_norm(centred, self.normalized_shape, self.weight, self.eps)
    return y if self.bias is None else y + self.bias


for _name, _forward in {
    "F.layer_norm": lambda self, x: F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps),
    "torch.layer_norm": lambda self, x: torch.layer_norm(x, self.normalized_shape, self.weight, self.bias,
                                                         self.eps),
    "torch.native_layer_norm": lambda self, x: torch.native_layer_norm(x, self.normalized_shape, self.weight,
                                                                       self.bias, self.eps)[0],
    "aten.native_layer_norm": lambda self, x: torch.ops.aten.native_layer_norm(x, list(self.normalized_shape),
                                                                               self.weight, self.bias,
                                                                               self.eps)[0],
    "F.rms_norm": _ln_rms,
    "F.group_norm": lambda self, x: _ln_affine(self, F.group_norm(
        x.reshape(x.shape[0], 1, -1), 1, eps=self.eps).reshape(x.shape)),
    "DisableTorchFunction": lambda self, x: no_torch_function(F.layer_norm, x, self.normalized_shape,
                                                              self.weight, self.bias, self.eps),
}.items():
    route("check_layernorm", _name)(_layer(HonestLN, _forward, "LayerNorm"))


def _ln_affine(self, y):
    if self.weight is not None:
        y = y * self.weight
    return y if self.bias is None else y + self.bias


@route("check_layernorm", "subclass nn.LayerNorm")
class LayerNorm(nn.LayerNorm):
    pass


@route("check_layernorm", "holds nn.LayerNorm")
class LayerNorm(nn.Module):  # noqa: F811
    def __init__(self, normalized_shape, **kwargs):
        super().__init__()
        self.ln = nn.LayerNorm(normalized_shape, **kwargs)

    def forward(self, x):
        return self.ln(x)


@route("check_layernorm", "holds nn.RMSNorm")
class LayerNorm(HonestLN):  # noqa: F811
    def __init__(self, normalized_shape, **kwargs):
        super().__init__(normalized_shape, **kwargs)
        self.rms = nn.RMSNorm(normalized_shape, elementwise_affine=False)


def _in_affine(self, y):
    if self.weight is not None:
        y = y * self.weight[:, None, None] + self.bias[:, None, None]
    return y


for _name, _forward in {
    "F.instance_norm": lambda self, x: F.instance_norm(x, self.running_mean, self.running_var, self.weight,
                                                       self.bias, self.training or not self.track_running_stats,
                                                       self.momentum, self.eps),
    "torch.instance_norm": lambda self, x: torch.instance_norm(
        x, self.weight, self.bias, self.running_mean, self.running_var,
        self.training or not self.track_running_stats, self.momentum, self.eps, False),
    "F.batch_norm on (1, N*C, H, W)": lambda self, x: _in_affine(self, F.batch_norm(
        x.reshape(1, -1, *x.shape[2:]), None, None, training=True, eps=self.eps).reshape(x.shape)),
    "F.group_norm with G=C": lambda self, x: F.group_norm(x, x.shape[1], self.weight, self.bias, self.eps),
    "aten.native_batch_norm": lambda self, x: _in_affine(self, torch.ops.aten.native_batch_norm(
        x.reshape(1, -1, *x.shape[2:]), None, None, None, None, True, 0.0, self.eps)[0].reshape(x.shape)),
    "DisableTorchFunction": lambda self, x: no_torch_function(
        F.instance_norm, x, None, None, self.weight, self.bias, True, 0.1, self.eps),
}.items():
    route("check_instancenorm2d", _name)(_layer(HonestIN, _forward, "InstanceNorm2d"))


@route("check_instancenorm2d", "subclass nn.InstanceNorm2d")
class InstanceNorm2d(nn.InstanceNorm2d):
    pass


@route("check_instancenorm2d", "holds nn.InstanceNorm2d")
class InstanceNorm2d(HonestIN):  # noqa: F811
    def __init__(self, num_features, **kwargs):
        super().__init__(num_features, **kwargs)
        self.torch_layer = nn.InstanceNorm2d(num_features)


def _gn_affine(self, y):
    if not self.affine:
        return y
    shape = [1, -1] + [1] * (y.dim() - 2)
    return y * self.weight.view(shape) + self.bias.view(shape)


for _name, _forward in {
    "F.group_norm": lambda self, x: F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps),
    "torch.group_norm": lambda self, x: torch.group_norm(x, self.num_groups, self.weight, self.bias, self.eps),
    "torch.native_group_norm": lambda self, x: torch.native_group_norm(
        x, self.weight, self.bias, x.shape[0], x.shape[1], x[0, 0].numel(), self.num_groups, self.eps)[0],
    "aten.native_group_norm": lambda self, x: torch.ops.aten.native_group_norm(
        x, self.weight, self.bias, x.shape[0], x.shape[1], x[0, 0].numel(), self.num_groups, self.eps)[0],
    "F.batch_norm on (1, N*G, -1)": lambda self, x: _gn_affine(self, F.batch_norm(
        x.reshape(1, x.shape[0] * self.num_groups, -1), None, None, training=True, eps=self.eps).reshape(x.shape)),
    "F.layer_norm on (N, G, -1)": lambda self, x: _gn_affine(self, F.layer_norm(
        x.reshape(x.shape[0], self.num_groups, -1), (x[0, 0].numel() * x.shape[1] // self.num_groups,),
        eps=self.eps).reshape(x.shape)),
    "DisableTorchFunction": lambda self, x: no_torch_function(F.group_norm, x, self.num_groups, self.weight,
                                                              self.bias, self.eps),
}.items():
    route("check_groupnorm", _name)(_layer(HonestGN, _forward, "GroupNorm"))


@route("check_groupnorm", "subclass nn.GroupNorm")
class GroupNorm(nn.GroupNorm):
    pass


@route("check_groupnorm", "holds nn.GroupNorm")
class GroupNorm(HonestGN):  # noqa: F811
    def __init__(self, num_groups, num_channels, **kwargs):
        super().__init__(num_groups, num_channels, **kwargs)
        self.gn = nn.GroupNorm(num_groups, num_channels, affine=False)

    def forward(self, x):
        return _gn_affine(self, self.gn(x))


# ---------------------------------------------------------------------------------------------------------
# Standardize.
def _std_view(self, stat, x):
    return stat.reshape(-1) if self.num_features is None else stat


def _std_batch_norm(self, x, kernel):
    if self.num_features is None:
        return kernel(x.reshape(1, -1), self.mean.reshape(1), (self.std ** 2).reshape(1)).reshape(x.shape)
    return kernel(x, self.mean, self.std ** 2)


for _name, _forward in {
    "F.batch_norm": lambda self, x: _std_batch_norm(
        self, x, lambda x, m, v: F.batch_norm(x, m, v, training=False, eps=0.0)),
    "torch.batch_norm": lambda self, x: _std_batch_norm(
        self, x, lambda x, m, v: torch.batch_norm(x, None, None, m, v, False, 0.0, 0.0, False)),
    "aten._native_batch_norm_legit_no_training": lambda self, x: _std_batch_norm(
        self, x, lambda x, m, v: torch.ops.aten._native_batch_norm_legit_no_training(x, None, None, m, v, 0.0,
                                                                                     0.0)[0]),
}.items():
    route("check_standardize", _name)(_layer(HonestStd, _forward, "Standardize"))


@route("check_standardize", "F.batch_norm in adapt")
class Standardize(HonestStd):
    """adapt() lets F.batch_norm with momentum 1 write the batch statistics into the buffers."""

    @torch.no_grad()
    def adapt(self, x):
        flat = x.reshape(1, 1, -1) if self.num_features is None else x
        mean = torch.zeros(flat.shape[1], dtype=x.dtype, device=x.device)
        var = torch.ones_like(mean)
        F.batch_norm(flat, mean, var, training=True, momentum=1.0)
        n = flat.numel() // flat.shape[1]
        std = (var * (n - 1) / n).sqrt()
        std = torch.where(std == 0, torch.ones_like(std), std)
        self.mean.copy_(mean.reshape(self.mean.shape))
        self.std.copy_(std.reshape(self.std.shape))
        return self


@route("check_standardize", "subclass nn.BatchNorm1d")
class Standardize(nn.BatchNorm1d):  # noqa: F811
    def __init__(self, num_features=None):
        super().__init__(num_features or 1, affine=False)


@route("check_standardize", "holds nn.BatchNorm1d")
class Standardize(HonestStd):  # noqa: F811
    def __init__(self, num_features=None):
        super().__init__(num_features)
        self.helper = nn.BatchNorm1d(num_features or 1, affine=False, momentum=None)


# ---------------------------------------------------------------------------------------------------------
# RunningBatchNorm: the course's reference, and torch.
@route("check_running_batchnorm", "subclass the reference")
class RunningBatchNorm(Reference):
    pass


@route("check_running_batchnorm", "holds the reference")
class RunningBatchNorm(HonestRBN):  # noqa: F811
    def __init__(self, nf, mom=0.1, eps=1e-5):
        super().__init__(nf, mom, eps)
        self.twin = Reference(nf, mom, eps)


@route("check_running_batchnorm", "borrows the reference's forward")
class RunningBatchNorm(HonestRBN):  # noqa: F811
    _update = Reference._update

    def forward(self, x):
        if not hasattr(self, "nf"):
            self.nf = x.shape[1]
        return Reference.forward(self, x)


@route("check_running_batchnorm", "calls the reference's batch_momentum")
class RunningBatchNorm(HonestRBN):  # noqa: F811
    def forward(self, x):
        if self.training:
            batch_momentum(self.mom, x.shape[0])
        return super().forward(x)


@route("check_running_batchnorm", "F.batch_norm for the normalization")
class RunningBatchNorm(HonestRBN):  # noqa: F811
    def forward(self, x):
        y = super().forward(x)
        F.batch_norm(x.detach(), None, None, training=True)  # e.g. a quick look at torch's answer
        return y


@route("check_running_batchnorm", "holds nn.BatchNorm2d")
class RunningBatchNorm(HonestRBN):  # noqa: F811
    def __init__(self, nf, mom=0.1, eps=1e-5):
        super().__init__(nf, mom, eps)
        self.bn = nn.BatchNorm2d(nf)


# ---------------------------------------------------------------------------------------------------------
# The batch-norm backward (autograd.Function).
def _backward_function(forward=None, backward=None):
    namespace = {}
    if forward is not None:
        namespace["forward"] = staticmethod(forward)
    if backward is not None:
        namespace["backward"] = staticmethod(backward)
    return type("BatchNormFunction", (HonestFunction,), namespace)


def _forward_with(kernel):
    def forward(ctx, x, weight, bias, eps):
        HonestFunction.forward(ctx, x, weight, bias, eps)  # saves what backward needs
        return kernel(x.detach(), weight.detach(), bias.detach(), eps)
    return forward


def _kernel_backward(ctx, dy):
    x_hat, inv_std, weight = ctx.saved_tensors
    mean = torch.zeros_like(inv_std)
    dx, dw, db = torch.ops.aten.native_batch_norm_backward(dy, x_hat / inv_std, weight, None, None, mean, inv_std,
                                                           True, 0.0, [True, True, True])
    return dx, dw, db, None


for _name, _answer in {
    "F.batch_norm in forward": _backward_function(forward=_forward_with(
        lambda x, w, b, eps: F.batch_norm(x, None, None, w, b, True, 0.0, eps))),
    "torch.batch_norm in forward": _backward_function(forward=_forward_with(
        lambda x, w, b, eps: torch.batch_norm(x, w, b, None, None, True, 0.0, eps, False))),
    "aten.native_batch_norm in forward": _backward_function(forward=_forward_with(
        lambda x, w, b, eps: torch.ops.aten.native_batch_norm(x, w, b, None, None, True, 0.0, eps)[0])),
    "nn.BatchNorm1d in forward": _backward_function(forward=_forward_with(
        lambda x, w, b, eps: nn.BatchNorm1d(x.shape[1], eps=eps, affine=False, track_running_stats=False,
                                            dtype=x.dtype)(x) * w + b)),
    "aten.native_batch_norm_backward in backward": _backward_function(backward=_kernel_backward),
    "DisableTorchFunction in backward": _backward_function(
        backward=lambda ctx, dy: no_torch_function(_kernel_backward, ctx, dy)),
}.items():
    route("check_batchnorm_backward", _name)(_answer)


# ---------------------------------------------------------------------------------------------------------
# batchnorm_inference and fold_bn_into_conv.
def _shaped(t, x):
    return t.reshape([1, -1] + [1] * (x.dim() - 2))


def _inference_layer(x, rm, rv, w, b, eps):
    bn = nn.BatchNorm1d(x.shape[1], eps=eps, device=x.device, dtype=x.dtype).eval()
    with torch.no_grad():
        for name, value in (("running_mean", rm), ("running_var", rv), ("weight", w), ("bias", b)):
            getattr(bn, name).copy_(value)
    return bn(x.reshape(x.shape[0], x.shape[1], -1)).reshape(x.shape)


for _name, _fn in {
    "F.batch_norm": lambda x, rm, rv, w, b, eps: F.batch_norm(x, rm, rv, w, b, False, 0.0, eps),
    "torch.batch_norm": lambda x, rm, rv, w, b, eps: torch.batch_norm(x, w, b, rm, rv, False, 0.0, eps, False),
    "torch.native_batch_norm": lambda x, rm, rv, w, b, eps: torch.native_batch_norm(x, w, b, rm, rv, False, 0.0,
                                                                                   eps)[0],
    "aten._native_batch_norm_legit_no_training": lambda x, rm, rv, w, b, eps:
        torch.ops.aten._native_batch_norm_legit_no_training(x, w, b, rm, rv, 0.0, eps)[0],
    "an nn.BatchNorm1d loaded with the statistics": _inference_layer,
    "DisableTorchFunction": lambda x, rm, rv, w, b, eps: no_torch_function(F.batch_norm, x, rm, rv, w, b, False,
                                                                           0.0, eps),
}.items():
    _fn.__name__ = "batchnorm_inference"
    route("check_batchnorm_inference", _name)(_fn)


def _fold_into(conv, weight, bias):
    import copy
    new = copy.deepcopy(conv)
    new.weight = nn.Parameter(weight.detach().clone())
    new.bias = nn.Parameter(bias.detach().clone())
    return new


def _fold_with_weights(conv, bn):
    fuse = fusion.fuse_conv_bn_weights if isinstance(conv, nn.Conv2d) else fusion.fuse_linear_bn_weights
    weight, bias = fuse(conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
    return _fold_into(conv, weight, bias)


def _fold_by_running_bn(conv, bn):
    """The scale and shift read off the batch norm itself: bn(0) is the shift, bn(1) - bn(0) the scale."""
    with torch.no_grad():
        C = bn.num_features
        zeros = torch.zeros(1, C, *([1] * (conv.weight.dim() - 2)), dtype=conv.weight.dtype)
        shift = bn(zeros).reshape(C)
        scale = bn(zeros + 1).reshape(C) - shift
        bias = shift if conv.bias is None else shift + conv.bias * scale
    return _fold_into(conv, conv.weight * scale.reshape([-1] + [1] * (conv.weight.dim() - 1)), bias)


def _fold_by_functional(conv, bn):
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        conv_bias = torch.zeros_like(bn.running_mean) if conv.bias is None else conv.bias
        bias = F.batch_norm(conv_bias[None], bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0,
                            bn.eps)[0]
    return _fold_into(conv, conv.weight * scale.reshape([-1] + [1] * (conv.weight.dim() - 1)), bias)


for _name, _fn in {
    "fusion.fuse_*_bn_eval": lambda conv, bn: (fusion.fuse_conv_bn_eval if isinstance(conv, nn.Conv2d)
                                               else fusion.fuse_linear_bn_eval)(conv, bn),
    "fusion.fuse_*_bn_weights": _fold_with_weights,
    "runs the bn": _fold_by_running_bn,
    "F.batch_norm for the bias": _fold_by_functional,
}.items():
    _fn.__name__ = "fold_bn_into_conv"
    route("check_fold_bn", _name)(_fn)


# ---------------------------------------------------------------------------------------------------------
def quiet(check, answer, **kwargs):
    with redirect_stdout(io.StringIO()) as out:
        check(answer, **kwargs)
    return out.getvalue()


@pytest.mark.parametrize("check, name, answer", ROUTES, ids=[f"{c[6:]}:{n}" for c, n, _ in ROUTES])
def test_delegation_fails_visibly_and_hidden_with_its_mistake(check, name, answer):
    key = KEYS[check]
    for thorough in (False, True):
        with pytest.raises(CheckFailure) as failure:
            quiet(getattr(checks, check), answer, thorough=thorough)
        message = str(failure.value)
        assert failure.value.mistake == key, f"thorough={thorough}: {failure.value.mistake!r}\n{message}"
        assert "by hand" in message and CATALOGUE[key].fix in message and "case [" in message, message
        assert failure.value.__cause__ is None and failure.value.__suppress_context__, "a failure of its own"
    assert sys.getprofile() is None
    assert not torch.overrides._get_current_function_mode_stack()
    assert torch.utils._python_dispatch._get_current_dispatch_mode() is None


def test_every_exercise_has_routes():
    assert {check for check, _, _ in ROUTES} == set(KEYS)
    assert set(KEYS.values()) <= set(CATALOGUE)


def test_the_message_names_the_call_and_the_learners_line():
    route_answer = dict(((c, n), a) for c, n, a in ROUTES)[("check_layernorm", "F.layer_norm")]
    with pytest.raises(CheckFailure) as failure:
        quiet(checks.check_layernorm, route_answer)
    message = str(failure.value)
    assert "your LayerNorm calls torch.nn.functional.layer_norm" in message, message
    assert "F.layer_norm(x, self.normalized_shape" in message, message  # the line of the answer that called it
    with pytest.raises(CheckFailure, match="is a subclass of torch.nn.GroupNorm"):
        quiet(checks.check_groupnorm, nn.GroupNorm)
    with pytest.raises(CheckFailure, match=r"holds an instance of torch.nn.BatchNorm1d \(self.inner.0\)"):
        quiet(checks.check_batchnorm1d, dict(((c, n), a) for c, n, a in ROUTES)[
            ("check_batchnorm1d", "holds nn.BatchNorm1d")])
    with pytest.raises(CheckFailure, match="runs torch's normalization kernel torch.ops.aten.native_batch_norm"):
        quiet(checks.check_batchnorm2d, dict(((c, n), a) for c, n, a in ROUTES)[
            ("check_batchnorm2d", "TorchScript")])
    with pytest.raises(CheckFailure, match=r"runs torch.nn.utils.fusion \(fuse_conv_bn_eval\)"):
        quiet(checks.check_fold_bn, dict(((c, n), a) for c, n, a in ROUTES)[
            ("check_fold_bn", "fusion.fuse_*_bn_eval")])


HONEST_OPS = {
    "mean, var, sqrt": lambda x: (x - x.mean((0, 2, 3), keepdim=True)) / torch.sqrt(
        x.var((0, 2, 3), keepdim=True, unbiased=False) + 1e-5),
    "var_mean, rsqrt": lambda x: (lambda v, m: (x - m) * torch.rsqrt(v + 1e-5))(
        *torch.var_mean(x, (0, 2, 3), keepdim=True, correction=0)),
    "std, std_mean": lambda x: x / x.std((2, 3), keepdim=True) + torch.std_mean(x, 0)[0],
    "einsum, sums": lambda x: torch.einsum("nchw,c->nchw", x, x.sum((0, 2, 3))) + (x * x).sum(),
    "F.normalize, vector_norm": lambda x: F.normalize(x, dim=1) + torch.linalg.vector_norm(x),
    "lerp, addcmul, clamp": lambda x: torch.addcmul(x, x, x).lerp(x, 0.1).clamp_min(0.01),
}


@pytest.mark.parametrize("name", HONEST_OPS)
def test_hand_written_arithmetic_is_never_delegation(name):
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    with _core.forbid_delegation("test", "case", "bn_delegates_to_torch", "your code", python_calls=True) as guard:
        y = HONEST_OPS[name](x)
        torch.autograd.grad(y.sum(), [x])
    assert guard.found is None  # (a call found would also have raised CheckFailure on leaving the block)


FORBIDDEN_CALLS = {
    "F.batch_norm": lambda x: F.batch_norm(x, None, None, training=True),
    "F.layer_norm": lambda x: F.layer_norm(x, (5, 5)),
    "F.group_norm": lambda x: F.group_norm(x, 3),
    "F.instance_norm": lambda x: F.instance_norm(x),
    "F.rms_norm": lambda x: F.rms_norm(x, (5,)),
    "torch.batch_norm": lambda x: torch.batch_norm(x, None, None, None, None, True, 0.1, 1e-5, False),
    "torch.layer_norm": lambda x: torch.layer_norm(x, (5,)),
    "torch.group_norm": lambda x: torch.group_norm(x, 3),
    "torch.instance_norm": lambda x: torch.instance_norm(x, None, None, None, None, True, 0.1, 1e-5, False),
    "torch.native_batch_norm": lambda x: torch.native_batch_norm(x, None, None, None, None, True, 0.1, 1e-5)[0],
    "torch.native_layer_norm": lambda x: torch.native_layer_norm(x, (5,), None, None, 1e-5)[0],
    "torch.native_group_norm": lambda x: torch.native_group_norm(x, None, None, 4, 3, 25, 3, 1e-5)[0],
    "torch.rms_norm": lambda x: torch.rms_norm(x, (5,)),
    "torch.batch_norm_update_stats": lambda x: torch.batch_norm_update_stats(x.detach(), None, None, 0.1)[0],
    "aten.native_batch_norm": lambda x: torch.ops.aten.native_batch_norm(x, None, None, None, None, True, 0.1,
                                                                          1e-5)[0],
    "aten._native_batch_norm_legit.no_stats": lambda x: torch.ops.aten._native_batch_norm_legit.no_stats(
        x, None, None, True, 0.1, 1e-5)[0],
    "aten._batch_norm_with_update": lambda x: torch.ops.aten._batch_norm_with_update(
        x, None, None, torch.zeros(3), torch.ones(3), 0.1, 1e-5)[0],
    "nn.BatchNorm2d": lambda x: nn.BatchNorm2d(3)(x),
    "nn.LayerNorm": lambda x: nn.LayerNorm(5)(x),
    "nn.GroupNorm": lambda x: nn.GroupNorm(3, 3)(x),
    "nn.InstanceNorm2d": lambda x: nn.InstanceNorm2d(3)(x),
    "nn.RMSNorm": lambda x: nn.RMSNorm(5)(x),
    "the reference": lambda x: Reference(3)(x),
}


@pytest.mark.parametrize("name", FORBIDDEN_CALLS)
def test_each_forbidden_call_is_recognised(name):
    checks.load_all()  # the catalogue knows bn_delegates_to_torch once the BatchNorm checks are imported
    x = torch.randn(4, 3, 5, 5, requires_grad=True)
    with pytest.raises(CheckFailure) as failure:
        with _core.forbid_delegation("test", "case", "bn_delegates_to_torch", "your code", python_calls=True):
            FORBIDDEN_CALLS[name](x)
    assert failure.value.mistake == "bn_delegates_to_torch"
    assert sys.getprofile() is None


def test_the_checks_own_use_of_torch_is_not_the_answers():
    """Torch's layers run as references and inputs next to the answer's code, never inside its windows: an
    honest answer passes, and the check itself calls fuse_conv_bn_eval and F.batch_norm around it."""
    from variants.inference.fold_new_conv import fold_bn_into_conv

    quiet(checks.check_fold_bn, fold_bn_into_conv, thorough=True)
    quiet(checks.check_batchnorm2d, Honest2d, thorough=True)


def test_a_learner_profiler_is_left_alone():
    calls = []

    def profiler(frame, event, arg):
        calls.append(event)

    sys.setprofile(profiler)
    try:
        with _core.forbid_delegation("test", "case", "bn_delegates_to_torch", "your code", python_calls=True):
            torch.ones(2).sum()
    finally:
        sys.setprofile(None)
    assert calls  # it kept running throughout


# ---------------------------------------------------------------------------------------------------------
# The lessons' own solutions: the answer cells of solutions/, run through every check their test cells call.
def _solution_answers():
    from test_lesson_cells import CALLS

    out = []
    for (check, hidden), (lesson, names, _) in sorted(CALLS.items()):
        if hidden or check not in KEYS:
            continue
        out.append((lesson, check, [n.strip() for n in names.split(",")]))
    return out


@pytest.mark.parametrize("lesson, check, names", _solution_answers(), ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("thorough", [False, True], ids=["visible", "hidden"])
def test_the_solutions_pass(lesson, check, names, thorough):
    from autograder.course import source_notebook

    nb = json.loads(source_notebook(ROOT, lesson).read_text())
    namespace: dict = {}
    setup = "import torch\nfrom torch import nn\nimport torch.nn.functional as F\nimport math, copy\n"
    exec(setup, namespace)
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("solution") and not meta.get("grade"):
            exec("".join(cell["source"]), namespace)
    answers = [namespace[n] for n in names]
    with redirect_stdout(io.StringIO()) as out:
        getattr(checks, check)(*answers, thorough=thorough)
    assert "passed" in out.getvalue()
