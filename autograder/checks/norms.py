"""Checks for the per-sample normalizations: ``LayerNorm``, ``InstanceNorm2d`` and ``GroupNorm``.

Each exercise mirrors its ``torch.nn`` counterpart (constructor arguments, parameter and buffer names and
shapes, initial values, forward in train and eval mode, running statistics of InstanceNorm when tracked), so
the checks compare the answer with torch's functional kernels, captured when this module is imported (an
answer cell that later replaces ``F.layer_norm`` or ``nn.GroupNorm.forward`` cannot change the reference).
Every case runs a forward pass in each mode and a backward pass with a random upstream gradient, on inputs
with a non-trivial mean and scale and random affine parameters (ones and zeros would hide affine mistakes).

When the output differs, it is matched against the layer's family of near misses (``_families``: statistics
over any set of dims or a regrouping reshape, the variance estimator, eps, square root, centring, keepdim,
affine slips, and, fitted to the answer, another eps or the groups its gradient shows it pooled), and
against the mistake models below for the running statistics, in float64; the message names the one the
answer matches and what it computes. Structural mistakes (wrong parameter shapes, flags ignored, wrong
initial values, missing errors) are diagnosed directly. Inputs that are non-contiguous or channels_last, and
2-D, 3-D and 5-D GroupNorm inputs, are in the hidden cases: an answer that only works for contiguous 4-D
tensors is told so.

Written by hand: the answer runs inside ``forbid_delegation`` (``_core``); a layer that derives from or holds a
torch norm layer, or calls any normalization function or kernel (``F.layer_norm``, ``F.group_norm`` or
``F.batch_norm`` on a reshaped input, ``torch.ops.aten.native_*_norm``, ...), fails at once with its exercise's
``*_delegates_to_torch`` mistake.

Deliberate leniency: InstanceNorm2d's ``num_batches_tracked`` buffer is optional (torch registers it when
``track_running_stats=True`` but never increments it), and its value is not compared.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import _families as fam
from ._core import (
    CheckFailure, Tolerance, call, check_not_torch_layer, close, compare, construct, delegation_mistake, devices,
    fail, forbid_delegation, generator, max_error, mistake, no_tf32, passed, randn, tolerance,
)

# Trusted references, captured before any answer cell runs.
_layer_norm = F.layer_norm
_group_norm = F.group_norm
_instance_norm = F.instance_norm
_grad = torch.autograd.grad
_torch_randint = torch.randint
_no_grad = torch.no_grad
_Module = nn.Module
_EXACT = Tolerance(rtol=0.0, atol=0.0)

LN, IN, GN = "LayerNorm", "InstanceNorm2d", "GroupNorm"

# ---------------------------------------------------------------------------------------------------------
# The catalogue.
mistake("ln_unbiased", LN, "the variance is the unbiased estimate (divides by n - 1)",
        "use the biased (population) variance: var(..., unbiased=False), as nn.LayerNorm does")
mistake("ln_eps_outside", LN, "eps is added to the standard deviation, not to the variance",
        "divide by sqrt(var + eps), not by sqrt(var) + eps")
mistake("ln_batch_axis", LN, "the statistics are taken across the batch (BatchNorm-style), not per sample",
        "reduce over the last len(normalized_shape) dims of each sample, never over dim 0")
mistake("ln_last_dim_only", LN, "only the last dim is normalized when normalized_shape has several dims",
        "reduce over all the trailing dims given by normalized_shape, e.g. dims (-3, -2, -1) for (C, H, W)")
mistake("ln_leading_dims", LN, "the statistics are taken over the leading dims, not the last len(normalized_shape)",
        "normalized_shape names the LAST dims of the input: reduce over dims (-k, ..., -1) with "
        "k = len(normalized_shape), e.g. dims (-1,) for (N, T, D) input and normalized_shape (D,)")
mistake("ln_wrong_dims", LN, "the statistics are not taken over each sample's last len(normalized_shape) dims "
        "(other dims, or a reshape that mixes them up)",
        "reduce over exactly the trailing dims that normalized_shape names: "
        "dims = tuple(range(-len(normalized_shape), 0)), whatever the input's number of dims")
mistake("ln_scalar_affine", LN, "weight and bias are single scalars instead of elementwise",
        "create weight and bias with shape normalized_shape (one value per normalized element)")
mistake("ln_bias_ignored", LN, "bias=False is ignored: a bias parameter is still created",
        "with bias=False keep the weight but set self.bias = None (register_parameter('bias', None))")
mistake("ln_wrong_init", LN, "weight or bias do not start as ones and zeros",
        "initialize weight with torch.ones(normalized_shape) and bias with torch.zeros(normalized_shape)")
mistake("ln_view_noncontiguous", LN, "forward fails on non-contiguous memory (.view of a transposed input, or of a "
        "tensor that a permute or transpose made non-contiguous)",
        "use .reshape (or reduce over the dims directly) instead of .view, which fails on transposed input")

mistake("in_unbiased", IN, "the per-instance variance is the unbiased estimate (divides by n - 1)",
        "normalize with the biased variance over (H, W): var(..., unbiased=False)")
mistake("in_batch_axes", IN, "the statistics are taken over (N, H, W), as BatchNorm does",
        "InstanceNorm uses each sample's own statistics: reduce over (H, W) only, dims (2, 3)")
mistake("in_layer_axes", IN, "the statistics are taken over (C, H, W), as LayerNorm does",
        "keep channels apart: reduce over (H, W) only, dims (2, 3)")
mistake("in_wrong_axes", IN, "the statistics are not taken over the H x W values of each sample's channel (other "
        "dims, or a reshape that mixes channels)",
        "each (sample, channel) pair gets its own mean and variance over all its positions: reduce over dims (2, 3)")
mistake("in_eps_outside", IN, "eps is added to the standard deviation, not to the variance",
        "divide by sqrt(var + eps), not by sqrt(var) + eps (or x.std(...) + eps)")
mistake("in_keras_momentum", IN,
        "reads momentum the Keras way: running = momentum * running + (1 - momentum) * new",
        "momentum is the weight of the new value: running = (1 - momentum) * running + momentum * new, "
        "e.g. running_mean.lerp_(new, momentum)")
mistake("in_affine_default", IN, "weight and bias are created although affine=False (the default)",
        "create weight and bias only when affine=True; otherwise set them to None")
mistake("in_tracks_untracked", IN, "running statistics are kept or used although track_running_stats=False",
        "with track_running_stats=False keep no running buffers and always use the instance's statistics")
mistake("in_eval_ignores_running", IN, "in eval mode the running statistics are ignored although tracked",
        "when track_running_stats=True and not self.training, normalize with running_mean and running_var")
mistake("in_train_uses_running_stats", IN, "normalizes with the running statistics in training mode too",
        "in training each instance is normalized with its own mean and variance over (H, W); the running "
        "statistics are only updated then, and used in eval mode")
mistake("in_running_summed", IN, "the running statistics move towards the SUM over the batch's instances, not "
        "their mean", "average the per-instance means and (unbiased) variances over the batch (.mean(0)) before "
        "updating running_mean and running_var")
mistake("in_running_biased", IN, "running_var is updated with the biased instance variance",
        "update running_var with the unbiased variance of each instance (n / (n - 1)), averaged over N")
mistake("in_running_batchwide", IN, "running_var is updated with the variance over the whole batch",
        "average the per-instance (unbiased) variances over the batch instead of pooling all N*H*W values")

mistake("gn_interleaved", GN, "channels are grouped by c % G (interleaved) instead of in contiguous blocks",
        "group consecutive channels: reshape to (N, G, C // G, ...) so channels 0..C/G-1 form group 0")
mistake("gn_wrong_grouping", GN,
        "the values that share statistics are not one sample's group of C // G consecutive channels",
        "reshape to (N, G, -1) (sample, group, everything else in the group) and reduce over the last dim only: "
        "never reshape away the batch dim, and keep G (not C // G) groups")
mistake("gn_affine_per_group", GN, "weight and bias have one value per group instead of one per channel",
        "create weight and bias with shape (num_channels,) and apply them per channel after normalizing")
mistake("gn_no_divisibility_error", GN, "num_channels not divisible by num_groups is accepted silently",
        "in __init__, raise ValueError('num_channels must be divisible by num_groups') when C % G != 0")
mistake("gn_unbiased", GN, "the group variance is the unbiased estimate (divides by n - 1)",
        "use the biased variance over each group: var(..., unbiased=False)")
mistake("gn_eps_outside", GN, "eps is added to the standard deviation, not to the variance",
        "divide by sqrt(var + eps), not by sqrt(var) + eps")
mistake("gn_batch_stats", GN, "each group's statistics are pooled over the whole batch",
        "compute the mean and variance per sample and group: reduce over dims 2.. of (N, G, -1), not dim 0")
mistake("gn_view_noncontiguous", GN, "forward fails on non-contiguous memory (.view of a transposed or channels_last "
        "input, or of a tensor that a permute or transpose made non-contiguous)",
        "use .reshape instead of .view: transposed or channels_last tensors cannot be viewed")
mistake("gn_4d_only", GN, "forward works only for 4-D (N, C, H, W) input",
        "accept any (N, C, *) input: reshape to (N, G, -1) instead of naming dims 2 and 3")

delegation_mistake("ln_delegates_to_torch", LN,
                   "subclass nn.Module (not nn.LayerNorm), hold no torch norm layer, and compute each sample's mean "
                   "and biased variance over the normalized dims with tensor operations (x.mean, "
                   "x.var(unbiased=False), torch.sqrt); F.layer_norm and nn.LayerNorm are what the check compares "
                   "with, and F.group_norm / F.batch_norm on a reshaped input are torch's normalization too")
delegation_mistake("in_delegates_to_torch", IN,
                   "subclass nn.Module (not nn.InstanceNorm2d), hold no torch norm layer, and compute each "
                   "sample's per-channel mean and biased variance over (H, W) with tensor operations, and the "
                   "running statistics in your own buffers; F.instance_norm and nn.InstanceNorm2d are what the "
                   "check compares with, and F.batch_norm / F.group_norm on a reshaped input are torch's "
                   "normalization too")
delegation_mistake("gn_delegates_to_torch", GN,
                   "subclass nn.Module (not nn.GroupNorm), hold no torch norm layer, and reshape to (N, G, -1) to "
                   "compute each group's mean and biased variance with tensor operations; F.group_norm and "
                   "nn.GroupNorm are what the check compares with, and F.batch_norm / F.layer_norm on a reshaped "
                   "input are torch's normalization too")
_DELEGATION = {LN: "ln_delegates_to_torch", IN: "in_delegates_to_torch", GN: "gn_delegates_to_torch"}


# ---------------------------------------------------------------------------------------------------------
# Shared machinery.
Model = Callable[[torch.Tensor, dict], torch.Tensor]


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _dims_text(shape, names: str) -> str:
    names = names.split()
    return " ".join(f"{n}={s}" for n, s in zip(names, shape))


def _layout(x: torch.Tensor, layout: str) -> torch.Tensor:
    """The same values in another memory layout: the answer must not depend on it."""
    if layout == "channels_last":
        return x.contiguous(memory_format=torch.channels_last)
    if layout == "transposed":  # a non-contiguous view of the same logical tensor
        return x.transpose(-1, -2).contiguous().transpose(-1, -2)
    return x


def _closest(actual, candidates):
    """The candidate nearest ``actual``: one mistake may take several forms (e.g. axes (0,) or (0, 2, 3))."""
    best, best_err = None, math.inf
    for cand in candidates:
        if cand is None or tuple(cand.shape) != tuple(actual.shape):
            continue
        err, _ = max_error(actual, cand)
        if err < best_err:
            best, best_err = cand, err
    return best


def _evaluate(model: Model, x, params: dict, g, which: str):
    """A mistake model's output (``which='out'``) or gradient (``'x'`` or a parameter name), in float64."""
    need_grad = which != "out"
    x = x.detach().double().requires_grad_(need_grad)
    p = {n: t.detach().double().requires_grad_(need_grad) for n, t in params.items()}
    y = model(x, p)
    if not need_grad:
        return y
    names = ["x"] + sorted(p)
    grads = _grad([y], [x] + [p[n] for n in sorted(p)], [g.double()], allow_unused=True)
    return dict(zip(names, grads))[which]


def _lazy(models: dict[str, list[Model]], actual, x, params, g, which):
    """``compare``'s mistakes: per key, the form of the mistake nearest the answer, computed on demand."""
    def make(fs):
        return lambda: _closest(actual, [_evaluate(f, x, params, g, which) for f in fs])
    return {key: make(fs) for key, fs in models.items()}


def _who(answer) -> str:
    return f"your {getattr(answer, '__name__', 'answer')}"


def _build(cls, subject: str, case: str, *args, **kwargs):
    check_not_torch_layer(cls, subject, case, _DELEGATION[subject], _who(cls))
    module = construct(cls, subject, case, *args, **kwargs)
    if not isinstance(module, _Module):
        fail(subject, case, f"{subject} should subclass nn.Module, got {type(module).__name__}.")
    check_not_torch_layer(module, subject, case, _DELEGATION[subject], _who(cls))
    return module


def _forward(module, x, subject, case, what, noncontig_key=None, lowdim_key=None, probe=None):
    """Run the answer; a crash only on a non-contiguous or non-4-D input gets its own diagnosis, and so does a
    broadcasting error that ``probe()`` (the answer on an input where the statistics do broadcast) explains."""
    try:
        return module(x)
    except CheckFailure:
        raise
    except Exception as e:  # noqa: BLE001 - the answer's exception, reported below
        error = f"{what} raised {type(e).__name__}: {e}"
        retry = None
        if noncontig_key and not x.is_contiguous():
            retry, key, note = x.contiguous(), noncontig_key, "the same values in contiguous memory work"
        elif lowdim_key and x.dim() != 4:
            retry = x.reshape(x.shape[0], x.shape[1], -1, 1)
            key, note = lowdim_key, "the same data as a 4-D tensor works"
        if retry is not None:
            try:
                module(retry.detach())
            except Exception:  # noqa: BLE001 - not the diagnosed crash; report the original one
                pass
            else:
                fail(subject, case, f"{error} ({note}).", key)
        if noncontig_key and "view size is not compatible with input tensor's size and stride" in str(e):
            fail(subject, case, f"{error}.", noncontig_key)
        if probe is not None and _broadcasting(e):
            found = probe()
            if found is not None:
                fail(subject, case, f"{error}. On an input whose sizes let it broadcast, your result matches "
                     f"{found[1]}.", found[0])
        fail(subject, case, error)


def _broadcasting(e: Exception) -> bool:
    return isinstance(e, RuntimeError) and "must match the size of tensor" in str(e)


def _probe(module, subject, case, shape, family_of, g, dtype, device):
    """The broadcasting probe of ``_forward``: the answer on a random input of ``shape`` against its family."""
    x = randn(shape, g, dtype, device, scale=1.5, shift=0.5)
    with forbid_delegation(subject, case, _DELEGATION[subject], _who(type(module))):
        try:
            with _no_grad():
                out = module(x)
        except CheckFailure:
            raise
        except Exception:  # noqa: BLE001 - the probe does not run either: nothing to explain
            return None
    if type(out) is not torch.Tensor:
        return None
    values = {n: p.detach().to("cpu", torch.float64) for n, p in module.named_parameters()}
    return fam.explain(out, None, x, family_of(values), tolerance(dtype))


def _explain_grad(family_of, actual, expected, x, values, g_out, which):
    """The family's simplest near miss whose gradient (w.r.t. the input or a parameter) is the answer's."""
    x64 = x.detach().to("cpu", torch.float64).contiguous().requires_grad_(which == "x")
    p = {n: t.detach().to("cpu", torch.float64).requires_grad_(n == which) for n, t in values.items()}
    family = family_of(p)
    wrt = x64 if which == "x" else p[which]
    g64 = g_out.detach().to("cpu", torch.float64)
    cache: dict = {}

    def compute(form):
        y = fam.normalize(form, x64, family.eps, None, None, cache)
        if y is None:
            return None
        y = family.affine(y)
        if not y.requires_grad:
            return None
        (grad,) = _grad([y], [wrt], [g64], retain_graph=True, allow_unused=True)
        return grad

    return fam.search(actual.detach().to("cpu", torch.float64), expected, family.forms(x64.dim()), compute,
                      family, tolerance(expected.dtype, "grad"))


def _expect_unchanged(x, keep, subject, case):
    if not close(x.detach(), keep, _EXACT):
        fail(subject, case, "forward changed its input in place; a layer must only read its input.")


def _set_params(module, values: dict[str, torch.Tensor]):
    params = dict(module.named_parameters())
    with _no_grad():
        for name, value in values.items():
            params[name].copy_(value)


def _random_params(shapes: dict[str, tuple], g, dtype, device):
    """Random weight (around 1) and bias (around 0.2): ones and zeros would hide affine mistakes."""
    out = {}
    for name, shape in shapes.items():
        if name == "weight":
            out[name] = randn(shape, g, dtype, device, scale=0.5, shift=1.0)
        else:
            out[name] = randn(shape, g, dtype, device, scale=0.5, shift=0.2)
    return out


def _run_pass(subject, case, module, x, reference, models, g_out, *, noncontig_key=None, lowdim_key=None,
              what="forward(x)", family=None, probe_shape=None, g=None):
    """One forward + backward of the answer against ``reference(x, params)``, the mistake models and the layer's
    family of near misses (``family(params)``: a ``_families.Family`` for these parameter values).

    ``reference`` is differentiable in ``x`` and the parameters; its parameters are the answer's current
    values (copied, so the answer cannot reach the reference's graph). ``probe_shape``: an input shape on which
    statistics reduced without keepdim broadcast, tried when the answer raises a broadcasting error.
    """
    params = dict(module.named_parameters())
    x_answer = x.detach().clone().requires_grad_(True)
    keep = x.detach().clone()
    who = _who(type(module))
    probe = None
    if family is not None and probe_shape is not None:
        probe = lambda: _probe(module, subject, case, probe_shape, family, g, x.dtype, x.device)  # noqa: E731
    with forbid_delegation(subject, case, _DELEGATION[subject], who):
        out = _forward(module, x_answer, subject, case, what, noncontig_key, lowdim_key, probe)
    _expect_unchanged(x_answer, keep, subject, case)

    x_ref = x.detach().clone().requires_grad_(True)
    p_ref = {n: p.detach().clone().requires_grad_(True) for n, p in params.items()}
    expected = reference(x_ref, p_ref)
    values = {n: p.detach() for n, p in params.items()}
    values64 = {n: v.to("cpu", torch.float64) for n, v in values.items()}
    explain = None
    if family is not None and type(out) is torch.Tensor:
        explain = lambda: fam.explain(out, expected.detach(), x, family(values64),  # noqa: E731
                                      tolerance(expected.dtype),
                                      partition=lambda: fam.partition_from_gradient(out, x_answer))
    compare(out, expected.detach(), subject=subject, case=case, what="the output",
            mistakes=_lazy(models, out, x, values, g_out, "out"), family=explain)

    names = sorted(params)
    with forbid_delegation(subject, case, _DELEGATION[subject], who):
        got = call(_grad, subject, case, "backward through the output", [out],
                   [x_answer] + [params[n] for n in names], [g_out], allow_unused=True)
    want = _grad([expected], [x_ref] + [p_ref[n] for n in names], [g_out], allow_unused=True)
    for name, a, e in zip(["x"] + names, got, want):
        label = "the gradient of the input" if name == "x" else f"the gradient of {name}"
        if e is None:
            continue
        if a is None:
            fail(subject, case, f"{label} is None: the output does not depend on it through autograd.")
        explain = None
        if family is not None and type(a) is torch.Tensor:
            explain = lambda a=a, e=e, name=name: _explain_grad(family, a, e, x, values, g_out, name)  # noqa: E731
        compare(a, e, subject=subject, case=case, what=label, kind="grad",
                mistakes=_lazy(models, a, x, values, g_out, name), family=explain)
    return out


def _expect_no_affine(subject, case, module, flag, key=None):
    """With the affine flag off, torch's layers set ``weight`` and ``bias`` to None."""
    if getattr(module, "weight", None) is not None or getattr(module, "bias", None) is not None:
        fail(subject, case, f"with {flag}=False, weight and bias should be None.", key)


def _describe(kwargs: dict, layout: str) -> str:
    """The constructor arguments and memory layout of a case, for its name."""
    text = "".join(f", {k}={v}" for k, v in kwargs.items())
    return text + (f", {layout}" if layout != "contiguous" else "")


def _check_params(subject, case, module, expected: dict[str, tuple], diagnose=None):
    """Parameter names and shapes as torch's layer has them; ``diagnose(name, shape)`` may name a mistake."""
    params = {n: tuple(p.shape) for n, p in module.named_parameters()}
    for name, shape in params.items():
        if name not in expected:
            key = diagnose(name, shape) if diagnose else None
            wanted = f"expected only {_listing(expected)}" if expected else "expected none"
            fail(subject, case, f"has a parameter '{name}' {shape}; {wanted}.", key)
    for name, shape in expected.items():
        if name not in params:
            fail(subject, case, f"has no parameter '{name}'; expected {_listing(expected)}.")
        if params[name] != shape:
            key = diagnose(name, params[name]) if diagnose else None
            fail(subject, case, f"parameter '{name}' has shape {params[name]}, expected {shape}.", key)


def _listing(expected: dict[str, tuple]) -> str:
    return ", ".join(f"'{n}' {s}" for n, s in expected.items()) if expected else "none"


def _check_init(subject, case, module, names, key=None):
    params = dict(module.named_parameters())
    for name in names:
        p = params[name].detach()
        want = torch.ones_like(p) if name == "weight" else torch.zeros_like(p)
        if not close(p, want, _EXACT):
            values = "ones" if name == "weight" else "zeros"
            fail(subject, case, f"'{name}' should start as all {values}.", key)


def _bcast(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-channel (C,) values shaped to broadcast against (N, C, *)."""
    return t.reshape((1, -1) + (1,) * (x.dim() - 2))


def _normalize(x, dims, *, eps, unbiased=False, eps_outside=False):
    mean = x.mean(dims, keepdim=True)
    var = x.var(dims, keepdim=True, unbiased=unbiased)
    if eps_outside:
        return (x - mean) / (var.sqrt() + eps)
    return (x - mean) / (var + eps).sqrt()


def _per_channel_family(groupings, keys, eps, p, regroup, stats=None):
    """A Family for a layer with per-channel weight and bias (``p``): the affine step, its inverse, and the
    affine step with the (C,) vectors broadcast against the last dim (an unshaped ``y * weight + bias``)."""
    def unaffine(y):
        if "bias" in p:
            y = y - _bcast(p["bias"], y)
        if "weight" in p:
            y = y / _bcast(p["weight"], y)
        return y

    def misaligned(y):
        return y * p["weight"].reshape(-1) + p["bias"].reshape(-1)

    return fam.Family(groupings, keys, eps, lambda y: _per_channel_affine(y, p), stats=stats, unaffine=unaffine,
                      misaligned=misaligned if "weight" in p and "bias" in p else None, regroup=regroup,
                      affine_first=bool(p) and stats is None)


def _per_channel_affine(y, p):
    if "weight" in p:
        y = y * _bcast(p["weight"], y)
    if "bias" in p:
        y = y + _bcast(p["bias"], y)
    return y


def _case_text(mode, dtype, shape, names, extra=""):
    return f"{mode}, {_dtype_name(dtype)}, {_dims_text(shape, names)}{extra}"


def _seed(thorough, seed):
    return generator(0 if (seed is None and not thorough) else seed)


def _pick(g, options):
    return options[int(_torch_randint(len(options), (1,), generator=g))]


def _randint(g, low, high):
    """An integer in [low, high]."""
    return int(_torch_randint(low, high + 1, (1,), generator=g))


def _input(shape, g, dtype, device):
    """Input with a different mean and scale along dim 1, so that reducing over wrong axes shows."""
    c = shape[1]
    scale = randn((c,), g, torch.float64).abs() * 1.5 + 0.5
    shift = randn((c,), g, torch.float64) * 2
    x = randn(shape, g, torch.float64)
    return (x * _bcast(scale, x) + _bcast(shift, x)).to(device=device, dtype=dtype)


# ---------------------------------------------------------------------------------------------------------
# Case tables, common to the three checks.
#
# Sizes: every normalized group holds at least 6 values. With 2 values x_hat is +-1 and the true input
# gradient is ~0, computed in float32 as a difference of O(1/std) terms -- noise, not a mistake.
#
# _FLOAT64_FIRST: every check runs its float64 cases before its float32 ones. A mistake whose effect is
# small (eps outside the square root moves outputs by ~eps/std) can land right at the float32 tolerance,
# where the answer fails by a hair while the mistake model passes by a hair and no diagnosis is given; in
# float64 the same effect is 10^4 times the tolerance, so the mistake is caught and named there first.


# ---------------------------------------------------------------------------------------------------------
# LayerNorm.
def _ln_family(normalized_shape, eps, x_dim, names=""):
    """LayerNorm's near misses: statistics over any set of dims (named by how they miss the trailing ones)."""
    k = len(normalized_shape)
    own = tuple(range(x_dim - k, x_dim))

    def tag(dims):
        if k < x_dim and dims == tuple(range(k)):
            return "leading"
        if k > 1 and dims == (x_dim - 1,):
            return "last_only"
        return "batch" if 0 in dims else "other"

    groupings = [fam.over(own, None, names)] + [fam.over(d, tag(d), names) for d in fam.subsets(x_dim) if d != own]
    keys = {"leading": "ln_leading_dims", "last_only": "ln_last_dim_only", "batch": "ln_batch_axis",
            "other": "ln_wrong_dims", "unbiased": "ln_unbiased", "eps_outside": "ln_eps_outside"}

    def family(p):
        def affine(y):
            if "weight" in p:
                y = y * p["weight"]
            if "bias" in p:
                y = y + p["bias"]
            return y

        def unaffine(y):
            if "bias" in p:
                y = y - p["bias"]
            if "weight" in p:
                y = y / p["weight"]
            return y
        return fam.Family(groupings, keys, eps, affine, unaffine=unaffine, regroup="other",
                          affine_first=bool(p))
    return family


def _ln_probe_shape(normalized_shape, x_dim):
    """An input shape on which statistics reduced over the trailing dims without keepdim (shape: the leading
    dims) broadcast against the input from the right: each leading size equals the size it meets."""
    k = len(normalized_shape)
    lead = x_dim - k
    sizes = [0] * lead + list(normalized_shape)
    for i in range(lead - 1, -1, -1):
        sizes[i] = sizes[i + k]
    return tuple(sizes)


def _ln_case(LayerNorm, g, modes, dtype, device, shape, names, normalized_shape, kwargs,
             layout="contiguous"):
    extra = f", normalized_shape={normalized_shape}" + _describe(kwargs, layout)
    case = _case_text("init", dtype, shape, names, extra)
    module = _build(LayerNorm, LN, case, normalized_shape, **kwargs)
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    affine = kwargs.get("elementwise_affine", True)
    with_bias = affine and kwargs.get("bias", True)
    expected = {}
    if affine:
        expected["weight"] = ns
    if with_bias:
        expected["bias"] = ns

    def diagnose(name, shape):
        if name == "bias" and not with_bias and affine:
            return "ln_bias_ignored"
        if name in expected and math.prod(shape) == 1 and math.prod(ns) > 1:
            return "ln_scalar_affine"
        return None

    if affine and not with_bias and getattr(module, "bias", None) is not None:
        fail(LN, case, "with bias=False, module.bias should be None.", "ln_bias_ignored")
    _check_params(LN, case, module, expected, diagnose)
    if not affine:
        _expect_no_affine(LN, case, module, "elementwise_affine")
    buffers = [n for n, _ in module.named_buffers()]
    if buffers:
        fail(LN, case, f"has buffers {buffers}; LayerNorm keeps no running statistics.")
    _check_init(LN, case, module, list(expected), "ln_wrong_init")

    module = module.to(device=device, dtype=dtype)
    _set_params(module, _random_params(expected, g, dtype, device))
    eps = kwargs.get("eps", 1e-5)
    family = _ln_family(ns, eps, len(shape), names)
    probe = _ln_probe_shape(ns, len(shape))

    def reference(x, p):
        return _layer_norm(x, ns, p.get("weight"), p.get("bias"), eps)

    for mode in modes:
        module.train(mode == "train")
        case = _case_text(mode, dtype, shape, names, extra)
        x = _layout(_input(shape, g, dtype, device), layout)
        g_out = randn(shape, g, dtype, device)
        _run_pass(LN, case, module, x, reference, {}, g_out, noncontig_key="ln_view_noncontiguous", family=family,
                  probe_shape=probe, g=g)


def check_layernorm(LayerNorm, *, thorough: bool = False, seed: int | None = None) -> None:
    """Check a learner's ``LayerNorm`` against ``nn.LayerNorm`` (see the module docstring)."""
    g = _seed(thorough, seed)
    f32, f64 = torch.float32, torch.float64
    both = ("train", "eval")
    # (shape, dim names, normalized_shape, constructor kwargs, dtype, layout)
    cases = [
        ((4, 3, 5, 6), "N C H W", (3, 5, 6), {}, f32, "contiguous"),
        ((3, 7, 8), "N L D", 8, {}, f32, "contiguous"),
        ((2, 3, 5, 4), "N C H W", (3, 5, 4), {"eps": 0.1}, f64, "contiguous"),
        ((5, 6), "N D", 6, {"elementwise_affine": False}, f64, "contiguous"),
    ]
    if thorough:
        for dtype in (f32, f64):
            n, c, h, w = _randint(g, 2, 5), _randint(g, 2, 6), _randint(g, 2, 7), _randint(g, 3, 7)
            length, d = _randint(g, 2, 9), _randint(g, 6, 24)
            eps = _pick(g, [1e-5, 1e-3, 0.1])
            cases += [
                ((n, c, h, w), "N C H W", (c, h, w), {"eps": eps}, dtype, "contiguous"),
                ((n, c, h, w), "N C H W", [c, h, w], {"bias": False}, dtype, "contiguous"),
                ((n, c, h, w), "N C H W", (h, w), {}, dtype, "channels_last"),
                ((n, length, d), "N L D", d, {"bias": False, "eps": eps}, dtype, "contiguous"),
                ((n, length, d), "N L D", (length, d), {}, dtype, "transposed"),
                ((n, length, d), "N L D", torch.Size([d]), {}, dtype, "transposed"),
                ((n, c, h, w), "N C H W", (c, h, w), {"elementwise_affine": False}, dtype, "transposed"),
                ((n, d), "N D", d, {"elementwise_affine": True, "bias": True}, dtype, "contiguous"),
            ]
    cases.sort(key=lambda case: case[4] != f64)  # float64 first: see _FLOAT64_FIRST
    devs = devices() if thorough else devices()[:1]
    count = 0
    with no_tf32():
        for device in devs:
            for shape, names, ns, kwargs, dtype, layout in cases:
                _ln_case(LayerNorm, g, both, dtype, device, shape, names, ns, kwargs, layout)
                count += 1
    passed(LN, count)


# ---------------------------------------------------------------------------------------------------------
# GroupNorm.
def _gn_family(groups, c, eps):
    """GroupNorm's near misses: the right groups, or values put together by another reshape or reduction."""
    G = groups
    view = fam.regrouped
    groupings = [
        view(lambda s: (s[0], G, -1), (2,), None, f"over each sample's groups of C // G = {c // G} consecutive "
             "channels"),
        view(lambda s: (s[0], c // G, G, -1), (1, 3), "interleaved",
             "over the channels c with the same c % G (a (N, C // G, G, -1) view)"),
        view(lambda s: (s[0], G, -1), (0, 2), "batch", "over each group of all the samples together"),
        view(lambda s: (G, -1), (1,), "regroup", "over the rows of a (G, -1) view (the batch dim reshaped away)"),
        view(lambda s: (s[0], -1, G), (1,), "regroup", "over the columns of a (N, -1, G) view"),
        view(lambda s: (s[0], G, -1), (1,), "regroup", "across the groups (dim 1 of a (N, G, -1) view)"),
    ]
    if c // G != G:
        groupings.append(view(lambda s: (s[0], c // G, -1), (2,), "regroup",
                              f"over C // G = {c // G} groups of G = {G} channels (a (N, C // G, -1) view)"))
    if G != c:
        groupings.append(view(lambda s: (s[0], c, -1), (2,), "regroup", "over each channel alone"))
    if G != 1:
        groupings.append(view(lambda s: (s[0], -1), (1,), "regroup", "over each whole sample"))
    keys = {"interleaved": "gn_interleaved", "batch": "gn_batch_stats", "regroup": "gn_wrong_grouping",
            "unbiased": "gn_unbiased", "eps_outside": "gn_eps_outside"}

    def family(p):
        return _per_channel_family(groupings, keys, eps, p, "regroup")
    return family


_GN_NAMES = {2: "N C", 3: "N C L", 4: "N C H W", 5: "N C D H W"}


def _gn_case(GroupNorm, g, dtype, device, shape, groups, kwargs, layout="contiguous"):
    c = shape[1]
    names = _GN_NAMES[len(shape)]
    extra = f", G={groups}" + _describe(kwargs, layout)
    case = _case_text("init", dtype, shape, names, extra)
    module = _build(GroupNorm, GN, case, groups, c, **kwargs)
    affine = kwargs.get("affine", True)
    expected = {"weight": (c,), "bias": (c,)} if affine else {}

    def diagnose(name, shape_):
        if name in ("weight", "bias") and groups != c and math.prod(shape_) == groups:
            return "gn_affine_per_group"
        return None

    _check_params(GN, case, module, expected, diagnose)
    if not affine:
        _expect_no_affine(GN, case, module, "affine")
    buffers = [n for n, _ in module.named_buffers()]
    if buffers:
        fail(GN, case, f"has buffers {buffers}; GroupNorm keeps no running statistics.")
    _check_init(GN, case, module, list(expected))

    module = module.to(device=device, dtype=dtype)
    _set_params(module, _random_params(expected, g, dtype, device))
    eps = kwargs.get("eps", 1e-5)
    family = _gn_family(groups, c, eps)

    def reference(x, p):
        return _group_norm(x, groups, p.get("weight"), p.get("bias"), eps)

    for mode in ("train", "eval"):
        module.train(mode == "train")
        case = _case_text(mode, dtype, shape, names, extra)
        x = _layout(_input(shape, g, dtype, device), layout)
        g_out = randn(shape, g, dtype, device)
        _run_pass(GN, case, module, x, reference, {}, g_out, noncontig_key="gn_view_noncontiguous",
                  lowdim_key="gn_4d_only", family=family)


def _gn_divisibility(GroupNorm, groups, channels):
    case = f"GroupNorm({groups}, {channels}): {channels} channels cannot be split into {groups} equal groups"
    try:
        GroupNorm(groups, channels)
    except ValueError as e:
        text = str(e).lower()
        if not any(word in text for word in ("divisib", "divide", "multiple", "%")):
            fail(GN, case, f"raised ValueError({str(e)!r}); its message should say that num_channels must "
                           "be divisible by num_groups.")
        return
    except Exception as e:  # noqa: BLE001 - the wrong exception type is the finding
        fail(GN, case, f"raised {type(e).__name__}: {e}; nn.GroupNorm raises ValueError.",
             "gn_no_divisibility_error")
    fail(GN, case, "no error was raised; nn.GroupNorm raises ValueError.", "gn_no_divisibility_error")


def check_groupnorm(GroupNorm, *, thorough: bool = False, seed: int | None = None) -> None:
    """Check a learner's ``GroupNorm`` against ``nn.GroupNorm``, including G=1 (LayerNorm-like) and G=C."""
    g = _seed(thorough, seed)
    f32, f64 = torch.float32, torch.float64
    # (shape, num_groups, constructor kwargs, dtype, layout); 2-D inputs keep groups of >= 2 channels.
    cases = [
        ((4, 6, 5, 5), 3, {}, f32, "contiguous"),
        ((3, 6, 4, 4), 1, {}, f64, "contiguous"),
        ((3, 6, 4, 4), 6, {}, f64, "contiguous"),
        ((5, 12), 2, {}, f32, "contiguous"),
        ((3, 4, 7), 2, {"eps": 0.1}, f64, "contiguous"),
    ]
    divisibility = [(4, 6)]
    if thorough:
        for dtype in (f32, f64):
            groups, per = _randint(g, 2, 4), _randint(g, 2, 3)
            c, wide = groups * per, groups * _randint(g, 6, 8)  # 2-D groups need >= 6 channels
            n, h, w, length = _randint(g, 2, 5), _randint(g, 2, 6), _randint(g, 3, 6), _randint(g, 6, 9)
            eps = _pick(g, [1e-5, 1e-3, 0.1])
            cases += [
                ((n, c, h, w), groups, {"eps": eps}, dtype, "contiguous"),
                ((n, c, h, w), 1, {}, dtype, "contiguous"),
                ((n, c, h, w), c, {}, dtype, "contiguous"),
                ((n, c, h, w), groups, {"affine": False}, dtype, "contiguous"),
                ((n, wide), groups, {}, dtype, "contiguous"),
                ((n, c, length), groups, {}, dtype, "contiguous"),
                ((n, c, length), c, {"eps": eps}, dtype, "contiguous"),
                ((n, c, 2, h, w), groups, {}, dtype, "contiguous"),
                ((n, c, h, w), groups, {}, dtype, "channels_last"),
                ((n, c, h, w), c, {}, dtype, "transposed"),
                ((n, c, length), groups, {}, dtype, "transposed"),
            ]
        divisibility += [(3, 4), (2, 5), (4, 2)]
    cases.sort(key=lambda case: case[3] != f64)  # float64 first: see _FLOAT64_FIRST
    devs = devices() if thorough else devices()[:1]
    count = 0
    with no_tf32():
        for device in devs:
            for shape, groups, kwargs, dtype, layout in cases:
                _gn_case(GroupNorm, g, dtype, device, shape, groups, kwargs, layout)
                count += 1
    for groups, channels in divisibility:
        _gn_divisibility(GroupNorm, groups, channels)
        count += 1
    passed(GN, count)


# ---------------------------------------------------------------------------------------------------------
# InstanceNorm2d.
def _in_running(history, momentum, how="instances", unbiased=True, keras=False, summed=False):
    """Running mean and var after the training inputs in ``history`` (float64), torch's way or a wrong one."""
    c = history[0].shape[1]
    rm = torch.zeros(c, dtype=torch.float64)
    rv = torch.ones(c, dtype=torch.float64)
    for x in history:
        x = x.detach().double().cpu()
        if how == "instances":
            mean = x.mean((2, 3)).mean(0) * (x.shape[0] if summed else 1)
            var = x.var((2, 3), unbiased=unbiased).mean(0) * (x.shape[0] if summed else 1)
        else:  # pooled over the batch, as BatchNorm does
            mean = x.mean((0, 2, 3))
            var = x.var((0, 2, 3), unbiased=unbiased)
        m = 1 - momentum if keras else momentum
        rm = (1 - m) * rm + m * mean
        rv = (1 - m) * rv + m * var
    return rm, rv


def _in_with_running(rm, rv, eps):
    def model(x, p):
        y = (x - _bcast(rm.to(x.device), x)) / (_bcast(rv.to(x.device), x) + eps).sqrt()
        return _per_channel_affine(y, p)
    return model


def _in_models(mode, track, eps, momentum, history) -> dict[str, list[Model]]:
    """The mistakes about running statistics (the ones about the statistics of a pass are ``_in_family``'s)."""
    def over(dims, **kw):
        return lambda x, p: _per_channel_affine(_normalize(x, dims, eps=eps, **kw), p)

    models: dict[str, list[Model]] = {}
    if mode == "eval" and track:
        def tracked(how="instances", unbiased=True, keras=False):
            return _in_with_running(*_in_running(history, momentum, how, unbiased, keras), eps)
        models["in_running_biased"] = [tracked(unbiased=False)]
        models["in_running_batchwide"] = [tracked("batch"), tracked("batch", False)]
        models["in_keras_momentum"] = [tracked(keras=True)]
        models["in_eval_ignores_running"] = [over((2, 3))]
    elif mode == "eval" and history:
        models["in_tracks_untracked"] = [_in_with_running(*_in_running(history, momentum), eps)]
    elif mode == "train" and track:  # normalized with the running statistics, after or before this update
        models["in_train_uses_running_stats"] = [
            lambda x, p: _in_with_running(*_in_running(history + [x], momentum), eps)(x, p),
            _in_with_running(*_in_running(history, momentum), eps) if history else
            _in_with_running(torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64), eps)]
    return models


_IN_NAMES = "N C H W"


def _in_family(eps, stats=None):
    """InstanceNorm's near misses: statistics over any set of dims, or (eval, tracked) the running ones."""
    def tag(dims):
        return {(0, 2, 3): "batch", (1, 2, 3): "layer"}.get(dims, "other")

    groupings = [fam.over((2, 3), None, _IN_NAMES)] + [fam.over(d, tag(d), _IN_NAMES) for d in fam.subsets(4)
                                                       if d != (2, 3)]
    keys = {"batch": "in_batch_axes", "layer": "in_layer_axes", "other": "in_wrong_axes", "unbiased": "in_unbiased",
            "eps_outside": "in_eps_outside"}

    def family(p):
        fixed = None if stats is None else tuple(t.detach().to("cpu", torch.float64).reshape(1, -1, 1, 1)
                                                 for t in stats)
        return _per_channel_family(groupings, keys, eps, p, "other", fixed)
    return family


def _in_case(InstanceNorm2d, g, dtype, device, shape, kwargs, steps, layout="contiguous"):
    c = shape[1]
    names = "N C H W"
    extra = _describe(kwargs, layout)
    case = _case_text("init", dtype, shape, names, extra)
    module = _build(InstanceNorm2d, IN, case, c, **kwargs)
    affine = kwargs.get("affine", False)
    track = kwargs.get("track_running_stats", False)
    eps, momentum = kwargs.get("eps", 1e-5), kwargs.get("momentum", 0.1)
    expected = {"weight": (c,), "bias": (c,)} if affine else {}

    def diagnose(name, shape_):
        return "in_affine_default" if name in ("weight", "bias") and not affine else None

    _check_params(IN, case, module, expected, diagnose)
    if not affine:
        _expect_no_affine(IN, case, module, "affine", "in_affine_default")
    buffers = dict(module.named_buffers())
    running = {"running_mean", "running_var"}
    if not track and set(buffers) & (running | {"num_batches_tracked"}):
        fail(IN, case, f"has buffers {sorted(buffers)} although track_running_stats=False.",
             "in_tracks_untracked")
    if track:
        for name in sorted(running):
            if name not in buffers:
                fail(IN, case, f"has no buffer '{name}' although track_running_stats=True.")
            if tuple(buffers[name].shape) != (c,):
                fail(IN, case, f"buffer '{name}' has shape {tuple(buffers[name].shape)}, expected ({c},).")
        extra_buffers = set(buffers) - running - {"num_batches_tracked"}
        if extra_buffers:
            fail(IN, case, f"has unexpected buffers {sorted(extra_buffers)}.")
        init = {"running_mean": torch.zeros(c), "running_var": torch.ones(c)}
        for name, want in init.items():
            if not close(buffers[name].detach(), want, _EXACT):
                values = "zeros" if name == "running_mean" else "ones"
                fail(IN, case, f"'{name}' should start as all {values}.")
    elif buffers:
        fail(IN, case, f"has unexpected buffers {sorted(buffers)}.")
    _check_init(IN, case, module, list(expected))

    module = module.to(device=device, dtype=dtype)
    _set_params(module, _random_params(expected, g, dtype, device))
    ref_rm = torch.zeros(c, dtype=dtype, device=device)
    ref_rv = torch.ones(c, dtype=dtype, device=device)
    history = []
    for step, mode in enumerate(steps):
        training = mode == "train"
        module.train(training)
        case = _case_text(mode, dtype, shape, names, extra + (f", step {step + 1}" if len(steps) > 2 else ""))
        x = _layout(_input(shape, g, dtype, device), layout)
        g_out = randn(shape, g, dtype, device)
        models = _in_models(mode, track, eps, momentum, history)

        def reference(x_, p, training=training):
            use_input = training or not track
            return _instance_norm(x_, ref_rm if track else None, ref_rv if track else None, p.get("weight"),
                                  p.get("bias"), use_input, momentum, eps)

        uses_running = track and not training
        family = _in_family(eps, (ref_rm.clone(), ref_rv.clone()) if uses_running else None)
        _run_pass(IN, case, module, x, reference, models, g_out, noncontig_key=None, family=family,
                  probe_shape=None if uses_running else (3, c, 3, c), g=g)
        if training:
            history.append(x.detach())
        if track:
            _compare_running(module, ref_rm, ref_rv, history, momentum, case)


def _compare_running(module, ref_rm, ref_rv, history, momentum, case):
    current = dict(module.named_buffers())
    running_mean, running_var = current.get("running_mean"), current.get("running_var")
    compare(running_mean, ref_rm, subject=IN, case=case, what="running_mean", mistakes={
        "in_keras_momentum": lambda: _in_running(history, momentum, keras=True)[0],
        "in_running_summed": lambda: _in_running(history, momentum, summed=True)[0],
    })
    compare(running_var, ref_rv, subject=IN, case=case, what="running_var", mistakes={
        "in_running_biased": lambda: _in_running(history, momentum, unbiased=False)[1],
        "in_running_batchwide": lambda: [_in_running(history, momentum, "batch")[1],
                                         _in_running(history, momentum, "batch", False)[1]],
        "in_keras_momentum": lambda: _in_running(history, momentum, keras=True)[1],
        "in_running_summed": lambda: _in_running(history, momentum, summed=True)[1],
    })


def check_instancenorm2d(InstanceNorm2d, *, thorough: bool = False, seed: int | None = None) -> None:
    """Check a learner's ``InstanceNorm2d`` against ``nn.InstanceNorm2d``, running statistics included."""
    g = _seed(thorough, seed)
    f32, f64 = torch.float32, torch.float64
    # (shape, constructor kwargs, dtype, modes in order, layout)
    cases = [
        ((4, 3, 5, 6), {}, f32, ["train", "train", "eval"], "contiguous"),
        ((2, 3, 4, 4), {"affine": True}, f64, ["train", "eval"], "contiguous"),
        ((2, 4, 5, 5), {"track_running_stats": True}, f32, ["train"] * 3 + ["eval"], "contiguous"),
        ((3, 2, 3, 4), {"affine": True, "track_running_stats": True, "momentum": 0.3, "eps": 1e-3}, f64,
         ["train", "train", "eval"], "contiguous"),
    ]
    if thorough:
        for dtype in (f32, f64):
            n, c, h, w = _randint(g, 2, 5), _randint(g, 2, 5), _randint(g, 2, 7), _randint(g, 3, 7)
            momentum = _pick(g, [0.1, 0.25, 0.5])
            many = ["train"] * _randint(g, 3, 6) + ["eval", "train", "eval"]
            cases += [
                ((n, c, h, w), {"eps": _pick(g, [1e-5, 1e-3, 0.1])}, dtype, ["train", "train", "eval"],
                 "contiguous"),
                ((n, c, h, w), {"affine": True}, dtype, ["train", "eval"], "channels_last"),
                ((n, c, h, w), {"track_running_stats": True, "momentum": momentum}, dtype, many,
                 "contiguous"),
                ((n, c, h, w), {"affine": True, "track_running_stats": True}, dtype, many, "transposed"),
                ((n, c, h, w), {"affine": False, "track_running_stats": False}, dtype, ["train", "eval"],
                 "transposed"),
            ]
    cases.sort(key=lambda case: case[2] != f64)  # float64 first: see _FLOAT64_FIRST
    devs = devices() if thorough else devices()[:1]
    count = 0
    with no_tf32():
        for device in devs:
            for shape, kwargs, dtype, modes, layout in cases:
                _in_case(InstanceNorm2d, g, dtype, device, shape, kwargs, modes, layout)
                count += 1
    passed(IN, count)
