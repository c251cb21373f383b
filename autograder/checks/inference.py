"""Checks for batch norm at inference: normalizing with moving statistics, and folding BN into a conv/linear.

``check_batchnorm_inference`` compares ``batchnorm_inference(x, running_mean, running_var, weight, bias,
eps)`` with ``F.batch_norm(..., training=False)``. The running statistics are deliberately unlike the
input's own statistics (so that using the batch statistics shows) and include a tiny variance (so that a
misplaced eps or a missing square root shows).

``check_fold_bn`` compares ``fold_bn_into_conv(conv, bn)`` with torch's
``torch.nn.utils.fusion.fuse_conv_bn_eval`` / ``fuse_linear_bn_eval``: the folded layer's weight and bias,
its output against conv -> bn in eval mode, its configuration (stride, padding, ...), and that the inputs
were neither modified nor shared.

Both functions must do the arithmetic themselves (``forbid_delegation``, ``_core``): ``batchnorm_inference``
may not call a normalization function or kernel (``F.batch_norm``, an ``nn.BatchNorm`` layer, ...), and
``fold_bn_into_conv`` may read the bn's tensors but neither run the bn (``bn(x)``, ``F.batch_norm``) nor call
``torch.nn.utils.fusion``; the checks themselves use both as references.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import fusion as _fusion

from . import _families as fam
from ._core import (
    Tolerance,
    call,
    close,
    compare,
    delegation_mistake,
    devices,
    fail,
    forbid_delegation,
    generator,
    mistake,
    no_tf32,
    passed,
    tolerance,
)
from .batchnorm import check_close, describe_shape, dtype_name, lay_out, one_thread

# Captured at import (see batchnorm.py for why).
_batch_norm = F.batch_norm
_fuse_conv = _fusion.fuse_conv_bn_eval
_fuse_linear = _fusion.fuse_linear_bn_eval
_Conv2d, _Linear, _BatchNorm1d, _BatchNorm2d = nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d
_named_parameters = nn.Module.named_parameters
_deepcopy = copy.deepcopy
_type = type
_EXACT = Tolerance(rtol=0.0, atol=0.0)

for _key, _layer, _name, _fix in [
    ("bn_inference_missing_sqrt", "batchnorm_inference",
     "divides by running_var + eps without the square root (an error once printed in the Keras docs)",
     "divide by sqrt(running_var + eps): running_var is a variance, the normalization needs a standard "
     "deviation."),
    ("bn_inference_eps_outside_sqrt", "batchnorm_inference", "adds eps after the square root",
     "put eps inside the square root: sqrt(running_var + eps)."),
    ("bn_inference_batch_stats", "batchnorm_inference", "normalizes with the statistics of the batch x",
     "at inference use the running_mean and running_var passed in: the output for one sample must not depend "
     "on the rest of the batch."),
    ("bn_inference_weight_bias_swapped", "batchnorm_inference", "swaps weight and bias",
     "scale by weight and then add bias: weight * x_hat + bias."),
    ("bn_inference_wrong_axis", "batchnorm_inference",
     "broadcasts the per-channel statistics along the wrong dimension of a 4-d input",
     "a (C,) tensor broadcasts against the last dimension (W of an (N, C, H, W) input); give it size-1 "
     "dimensions so that C lines up with dimension 1 of x, for 2-d and 4-d input alike."),
    ("bn_inference_modifies_inputs", "batchnorm_inference",
     "modifies one of its arguments in place (e.g. running_var.add_(eps))",
     "compute new tensors (running_var + eps, x - running_mean): the running statistics belong to the layer "
     "and must be the same after the call."),
    ("fold_eps_missing", "fold_bn_into_conv", "folds without eps: scale = gamma / sqrt(running_var)",
     "use the same scale as the layer: gamma / sqrt(running_var + bn.eps)."),
    ("fold_missing_sqrt", "fold_bn_into_conv",
     "folds with gamma / (running_var + eps), without the square root",
     "scale = gamma / sqrt(running_var + eps)."),
    ("fold_eps_outside_sqrt", "fold_bn_into_conv", "folds with gamma / (sqrt(running_var) + eps)",
     "put eps inside the square root, as the layer does: scale = gamma / sqrt(running_var + eps)."),
    ("fold_bias_not_scaled", "fold_bn_into_conv",
     "gets a term of the folded bias wrong (the conv's bias or running_mean left unscaled, beta scaled or left "
     "out)",
     "the conv's bias goes through the batch norm with the rest of the conv's output: shift it by running_mean, "
     "then multiply by the scale, and add beta unscaled: (conv_bias - running_mean) * scale + beta."),
    ("fold_ignores_conv_bias", "fold_bn_into_conv", "ignores the conv's own bias",
     "the conv's bias goes through the batch norm too (shifted by running_mean, then scaled like the "
     "rest); only a conv without bias contributes zero."),
    ("fold_scale_wrong_axis", "fold_bn_into_conv", "scales the weight along the wrong axis",
     "the batch norm scales output channels, which are dimension 0 of a conv's or linear's weight: "
     "broadcast the per-channel scale along dimension 0."),
    ("fold_mutates_inputs", "fold_bn_into_conv",
     "modifies or shares the tensors of the conv or bn it was given",
     "return a new layer with its own new tensors (a deep copy, not copy.copy) and never write into the "
     "conv's or the bn's tensors: the original model must keep working."),
    ("fold_drops_conv_settings", "fold_bn_into_conv",
     "returns a layer whose configuration (stride, padding, dilation, ...) differs from the conv's",
     "start from a deep copy of the conv, or pass every setting to the new nn.Conv2d: in/out channels, "
     "kernel_size, stride, padding, dilation, groups, padding_mode."),
]:
    mistake(_key, _layer, _name, _fix)
delegation_mistake(
    "bn_inference_delegates_to_torch", "batchnorm_inference",
    "compute (x - running_mean) / torch.sqrt(running_var + eps) * weight + bias with tensor operations, the "
    "per-channel vectors shaped to broadcast along dimension 1; F.batch_norm(training=False) (or an "
    "nn.BatchNorm layer loaded with these statistics) is the reference the check compares with.")
delegation_mistake(
    "fold_delegates_to_torch", "fold_bn_into_conv",
    "compute the folded weight and bias yourself: scale = bn.weight / torch.sqrt(bn.running_var + bn.eps), the "
    "conv's weight times scale along the output channels, (conv bias - running_mean) * scale + bn.bias. "
    "Reading the bn's tensors is the point; torch.nn.utils.fusion (fuse_conv_bn_eval, fuse_conv_bn_weights, "
    "fuse_linear_bn_eval, ...) is the reference, and running the bn (bn(x), F.batch_norm) hands the formula "
    "to torch too.")


def _who(fn) -> str:
    return f"your {getattr(fn, '__name__', 'answer')}"


# ---------------------------------------------------------------------------------------------------------
# batchnorm_inference
def _inference_models(x, rm, rv, w, b, eps):
    """What each catalogued mistake returns for this case (float64, CPU)."""
    x, rm, rv, w, b = (t.detach().to("cpu", torch.float64) for t in (x, rm, rv, w, b))
    dims = (0,) + tuple(range(2, x.dim()))
    view = (1, -1) + (1,) * (x.dim() - 2)

    def norm(mean, var, denom=lambda v: torch.sqrt(v + eps), scale=w, shift=b, shape=view):
        return (x - mean.view(shape)) / denom(var.view(shape)) * scale.view(shape) + shift.view(shape)

    def batch():
        var, mean = torch.var_mean(x, dim=dims, correction=0)
        n = x.numel() // x.shape[1]
        return [norm(mean, var), norm(mean, var * n / max(n - 1, 1))]

    def wrong_axis():
        if x.dim() == 2:  # (1, C, 1, 1) views against (N, C): broadcast to (1, C, N, C)
            four = (1, -1, 1, 1)
            return [(x - rm.view(four)) / torch.sqrt(rv.view(four) + eps) * w.view(four) + b.view(four)]
        if x.dim() != 4:
            return None
        out = []
        if x.shape[-1] == x.shape[1]:  # a bare (C,) or a (1, C) view lines up with W
            out.append(norm(rm, rv, shape=(1, 1, 1, -1)))
        if x.shape[0] == x.shape[1]:  # a (C, 1, 1, 1) view lines up with N
            out.append(norm(rm, rv, shape=(-1, 1, 1, 1)))
        return out

    def affine_first():
        y = x * w.view(view) + b.view(view)
        return (y - rm.view(view)) / torch.sqrt(rv.view(view) + eps)

    def bias_first():
        return ((x - rm.view(view)) / torch.sqrt(rv.view(view) + eps) + b.view(view)) * w.view(view)

    return {
        "bn_inference_wrong_axis": wrong_axis,
        "bn_inference_batch_stats": batch,
        "bn_inference_weight_bias_swapped": lambda: norm(rm, rv, scale=b, shift=w),
        "bn_affine_before_normalize": affine_first,
        "norm_bias_before_weight": bias_first,
    }


def _inference_family(x, rm, rv, w, b, eps) -> fam.Family:
    """The denominator and centring slips, with the running statistics given (``_families``)."""
    view = (1, -1) + (1,) * (x.dim() - 2)
    rm, rv, w, b = (t.detach().to("cpu", torch.float64).view(view) for t in (rm, rv, w, b))
    keys = {"eps_outside": "bn_inference_eps_outside_sqrt", "missing_sqrt": "bn_inference_missing_sqrt"}
    return fam.Family([], keys, eps, lambda y: y * w + b, stats=(rm, rv))


def _inference_case(fn, shape, dtype, eps, layout, device, g, subject, thorough) -> None:
    parts = [dtype_name(dtype), describe_shape(shape), f"eps={eps:g}"]
    parts += [layout] if layout != "contiguous" else []
    parts += [device.type] if device.type != "cpu" else []
    case = ", ".join(parts)
    C = shape[1]
    # Running variances from 1e-4 (where eps and the square root matter) to 4, running means within three
    # running standard deviations of zero. The batch is drawn around them with its own spread (0.5 to 2
    # running standard deviations) and offset (up to one), so that normalizing with the batch's statistics
    # is visibly wrong. Keeping |mean| / std moderate keeps every correct float32 order of operations within
    # the tolerance: F.batch_norm itself computes x * a + (bias - mean * a), which cancels when the mean is
    # many standard deviations away from zero.
    rv = torch.exp(torch.empty(C, dtype=torch.float64).uniform_(-9.2, 1.4, generator=g))
    rv[int(torch.randint(C, (1,), generator=g))] = 1e-4
    rm = rv.sqrt() * (torch.rand(C, generator=g, dtype=torch.float64) * 6 - 3)
    spread = 0.5 + 1.5 * torch.rand(C, generator=g, dtype=torch.float64)
    offset = torch.rand(C, generator=g, dtype=torch.float64) * 2 - 1
    view = (1, -1) + (1,) * (len(shape) - 2)
    z = torch.randn(shape, generator=g, dtype=torch.float64)
    x = rm.view(view) + rv.sqrt().view(view) * (spread.view(view) * z + offset.view(view))
    sign = torch.where(torch.rand(C, generator=g) < 0.2, -1.0, 1.0).double()
    w = sign * (0.5 + 1.5 * torch.rand(C, generator=g, dtype=torch.float64))
    b = torch.randn(C, generator=g, dtype=torch.float64)
    x, rm, rv, w, b = (t.to(device=device, dtype=dtype) for t in (x, rm, rv, w, b))
    x = lay_out(x, layout)
    originals = [t.clone() for t in (x, rm, rv, w, b)]
    with forbid_delegation(subject, case, "bn_inference_delegates_to_torch", _who(fn)):
        y = call(fn, subject, case, "batchnorm_inference(x, running_mean, running_var, weight, bias, eps)",
                 x, rm, rv, w, b, eps)
    for name, now, before in zip(("x", "running_mean", "running_var", "weight", "bias"), (x, rm, rv, w, b),
                                 originals):
        if not close(now, before, _EXACT):
            fail(subject, case, f"the function modified its argument {name} in place; inference must leave "
                 "its inputs unchanged.", "bn_inference_modifies_inputs")
    expected = _batch_norm(x, rm, rv, w, b, training=False, momentum=0.0, eps=eps)
    if thorough:  # the reference against the formula, in float64 (catches a patched torch)
        x64, rm64, rv64, w64, b64 = (t.double() for t in (x, rm, rv, w, b))
        v = (1, -1) + (1,) * (len(shape) - 2)
        formula = (x64 - rm64.view(v)) / torch.sqrt(rv64.view(v) + eps) * w64.view(v) + b64.view(v)
        if not close(expected, formula.to(dtype), Tolerance(1e-4, 1e-5) if dtype != torch.float64 else
                     Tolerance(1e-9, 1e-10)):
            fail(subject, case, "torch's F.batch_norm disagrees with the formula: torch seems to have been "
                 "modified in this kernel. Restart the kernel and run all cells.")
    check_close(y, expected, subject=subject, case=case, what="output",
                mistakes=_inference_models(x, rm, rv, w, b, eps),
                family=lambda: fam.explain(y, expected, x, _inference_family(x, rm, rv, w, b, eps),
                                           tolerance(expected.dtype)) if type(y) is torch.Tensor else None)


def check_batchnorm_inference(batchnorm_inference, *, thorough: bool = False, seed: int | None = None):
    """Check ``batchnorm_inference(x, running_mean, running_var, weight, bias, eps)`` against
    ``F.batch_norm(training=False)`` for (N, C) and (N, C, H, W) inputs.

    The first 4-d case has N == C == W, so that statistics broadcast along the wrong dimension give a wrong
    result (which can be recognised) instead of a shape error.
    """
    subject = f"{getattr(batchnorm_inference, '__name__', 'answer')} (vs F.batch_norm(training=False))"
    g = generator(0 if seed is None and not thorough else seed)
    cpu = torch.device("cpu")
    visible = [((8, 4), torch.float32, 1e-5, "contiguous"), ((3, 3, 5, 3), torch.float32, 1e-5, "contiguous"),
               ((2, 4, 3, 5), torch.float64, 1e-3, "contiguous")]
    n = 0
    with one_thread(), no_tf32():
        if not thorough:
            for shape, dtype, eps, layout in visible:
                _inference_case(batchnorm_inference, shape, dtype, eps, layout, cpu, g, subject, False)
                n += 1
        else:
            for device in devices():
                table = visible + [
                    ((4, 4, 6, 4), torch.float32, 1e-3, "contiguous"),
                    ((1, 5), torch.float32, 1e-5, "contiguous"),
                    ((1, 3, 4, 4), torch.float64, 1e-5, "contiguous"),
                    ((16, 7), torch.float64, 0.1, "contiguous"),
                    ((5, 6, 7, 8), torch.float32, 1e-5, "channels_last"),
                    ((3, 4, 5, 6), torch.float32, 1e-5, "transposed"),
                    ((6, 5), torch.float64, 1e-5, "transposed"),
                    ((2, 3, 4, 5), torch.float32, 1e-2, "sliced"),
                ]
                for _ in range(3):
                    shape = tuple(int(torch.randint(1, 7, (1,), generator=g)) for _ in range(4))
                    table.append((shape, torch.float32, 1e-5, ["contiguous", "channels_last"][n % 2]))
                for shape, dtype, eps, layout in table:
                    _inference_case(batchnorm_inference, shape, dtype, eps, layout, device, g, subject, True)
                    n += 1
    passed(subject, n)


# ---------------------------------------------------------------------------------------------------------
# fold_bn_into_conv
_SETTINGS = {
    "conv": ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
             "padding_mode"),
    "linear": ("in_features", "out_features"),
}


def _fold_models(kind, weight, bias, rm, rv, gamma, beta, eps):
    """What each catalogued folding mistake gives for the weight and for the bias (float64, CPU)."""
    weight, rm, rv, gamma, beta = (t.detach().to("cpu", torch.float64) for t in (weight, rm, rv, gamma, beta))
    conv_bias = torch.zeros_like(rm) if bias is None else bias.detach().to("cpu", torch.float64)
    out_view = (-1,) + (1,) * (weight.dim() - 1)

    def fold(scale):
        return weight * scale.view(out_view), (conv_bias - rm) * scale + beta

    def wrong_axis():
        scale = gamma / torch.sqrt(rv + eps)
        out = []
        if weight.shape[1] == weight.shape[0]:  # scaled along the input channels / features
            out.append(weight * scale.view((1, -1) + (1,) * (weight.dim() - 2)))
        if weight.shape[-1] == weight.shape[0] and weight.dim() > 2:  # a bare (C,) broadcasts along kW
            out.append(weight * scale)
        return out

    scale = gamma / torch.sqrt(rv + eps)
    weights = {"fold_scale_wrong_axis": wrong_axis}
    biases = {"fold_ignores_conv_bias": lambda: None if bias is None else beta - rm * scale,
              "fold_bias_not_scaled": lambda: [conv_bias - rm * scale + beta, conv_bias * scale - rm + beta,
                                               (conv_bias - rm + beta) * scale, conv_bias - rm + beta,
                                               (conv_bias - rm) * scale]}
    # the scale with each wrong denominator of the normalization family (``_families``)
    for key in dict.fromkeys(_FOLD_DENOMINATORS.values()):
        wrong = [d for d, k in _FOLD_DENOMINATORS.items() if k == key]
        weights[key] = lambda wrong=wrong: [fold(gamma / fam.DENOMINATORS[d](rv, eps))[0] for d in wrong]
        biases[key] = lambda wrong=wrong: [fold(gamma / fam.DENOMINATORS[d](rv, eps))[1] for d in wrong]
    return weights, biases


_FOLD_DENOMINATORS = {"sqrt(var)": "fold_eps_missing", "var + eps": "fold_missing_sqrt",
                      "sqrt(var) + eps": "fold_eps_outside_sqrt", "1 / sqrt(var + eps)": "norm_multiplies_by_std",
                      "sqrt(sqrt(var) + eps)": "norm_sqrt_of_std", "sqrt(sqrt(var + eps))": "norm_sqrt_of_std"}


def _make_pair(kind, spec, bn_eps, dtype, device, g):
    """A conv (or linear) and a batch norm in eval mode, with random weights and running statistics.

    One running variance is 1e-3, where eps = 1e-5 already moves the scale by 0.5%: a fold without eps
    shows. Some gammas are negative (a sign mistake shows), the conv's weights are random (not torch's
    default init, which draws from the learner's global RNG).
    """
    with torch.random.fork_rng(devices=[]):
        layer = _Conv2d(**spec) if kind == "conv" else _Linear(**spec)
    C = layer.weight.shape[0]
    bn = (_BatchNorm2d if kind == "conv" else _BatchNorm1d)(C, eps=bn_eps)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        bn.running_mean.copy_(torch.randn(C, generator=g))
        rv = torch.exp(torch.empty(C).uniform_(-7.0, 1.1, generator=g))
        rv[int(torch.randint(C, (1,), generator=g))] = 1e-3
        bn.running_var.copy_(rv)
        sign = torch.where(torch.rand(C, generator=g) < 0.2, -1.0, 1.0)
        bn.weight.copy_(sign * (0.5 + 1.5 * torch.rand(C, generator=g)))
        bn.bias.copy_(torch.randn(C, generator=g))
        bn.num_batches_tracked.fill_(100)
    layer.to(device=device, dtype=dtype).eval()
    bn.to(device=device, dtype=dtype).eval()
    return layer, bn


def _storages(module):
    return {t.untyped_storage().data_ptr() for t in list(module.parameters()) + list(module.buffers())}


def _fold_case(fold, kind, spec, bn_eps, dtype, device, g, subject, thorough) -> None:
    settings = ", ".join(f"{k}={v}" for k, v in spec.items())
    layer_name = "Conv2d" if kind == "conv" else "Linear"
    case = f"{layer_name}({settings}) -> BatchNorm(eps={bn_eps:g}), {dtype_name(dtype)}"
    case += f", {device.type}" if device.type != "cpu" else ""
    layer, bn = _make_pair(kind, spec, bn_eps, dtype, device, g)
    before = {f"{who}.{k}": v.detach().clone() for who, m in (("conv" if kind == "conv" else "linear", layer),
                                                             ("bn", bn)) for k, v in m.state_dict().items()}
    expected_layer = (_fuse_conv if kind == "conv" else _fuse_linear)(layer, bn)
    with forbid_delegation(subject, case, "fold_delegates_to_torch", _who(fold), python_calls=True):
        folded = call(fold, subject, case, "fold_bn_into_conv(conv, bn)", layer, bn)

    # the inputs must be untouched and unshared
    after = {f"{who}.{k}": v for who, m in (("conv" if kind == "conv" else "linear", layer), ("bn", bn))
             for k, v in m.state_dict().items()}
    for name, old in before.items():
        if not close(after[name], old, _EXACT):
            fail(subject, case, f"{name} was changed by the call.", "fold_mutates_inputs")
    want_type = _Conv2d if kind == "conv" else _Linear
    if not isinstance(folded, want_type):
        fail(subject, case, f"expected an nn.{want_type.__name__}, got {type(folded).__name__}.")
    if folded is layer:
        fail(subject, case, "returned the very layer it was given.", "fold_mutates_inputs")
    params = dict(_named_parameters(folded))
    for name in ("weight", "bias"):
        if name not in params:
            fail(subject, case, f"the folded layer's {name} should be an nn.Parameter (a folded layer always "
                 "has a bias: the batch norm's shift ends up there).")
    shared = _storages(folded) & (_storages(layer) | _storages(bn))
    if shared:
        fail(subject, case, "the folded layer shares memory with the original conv or bn: changing one would "
             "change the other.", "fold_mutates_inputs")
    for name in _SETTINGS[kind]:
        if getattr(folded, name, None) != getattr(layer, name):
            fail(subject, case, f"the folded layer has {name}={getattr(folded, name, None)!r}, the original "
                 f"{getattr(layer, name)!r}.", "fold_drops_conv_settings")

    if thorough:  # torch's fusion against the formula (catches a patched torch)
        scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
        if not close(expected_layer.weight, (layer.weight.double() * scale.view((-1,) + (1,) * (
                layer.weight.dim() - 1))).to(dtype), Tolerance(1e-5, 1e-6) if dtype != torch.float64
                else Tolerance(1e-10, 1e-12)):
            fail(subject, case, "torch's fuse function disagrees with the formula: torch seems to have been "
                 "modified in this kernel. Restart the kernel and run all cells.")
    weights, biases = _fold_models(kind, layer.weight, layer.bias, bn.running_mean, bn.running_var, bn.weight,
                                   bn.bias, bn.eps)
    check_close(params["weight"], expected_layer.weight, subject=subject, case=case, what="folded weight",
                mistakes=weights)
    check_close(params["bias"], expected_layer.bias, subject=subject, case=case, what="folded bias",
                mistakes=biases)
    # The output, computed in float64 on copies: in float32 the reference conv -> bn itself carries the
    # conv's rounding error times the bn's scale (up to ~60 here), more than the tolerance near zero.
    shape = (3, layer.in_channels, 9, 8) if kind == "conv" else (5, layer.in_features)
    x = torch.randn(shape, generator=g, dtype=torch.float64).to(device=device)
    try:
        folded64 = _deepcopy(folded).to(torch.float64)
    except Exception:  # noqa: BLE001 - an uncopyable layer is run as it is
        folded64, x = folded, x.to(dtype)
    with torch.no_grad():
        want = _deepcopy(bn).double()(_deepcopy(layer).double()(x.double())).to(dtype)
        with forbid_delegation(subject, case, "fold_delegates_to_torch", _who(fold), python_calls=True):
            got = call(folded64, subject, case, "the folded layer's forward", x)
    compare(got.to(dtype) if _type(got) is torch.Tensor else got, want, subject=subject, case=case,
            what="folded layer output (vs conv -> bn in eval mode)")


def check_fold_bn(fold_bn_into_conv, *, thorough: bool = False, seed: int | None = None) -> None:
    """Check ``fold_bn_into_conv(conv, bn)`` against ``torch.nn.utils.fusion.fuse_conv_bn_eval`` (Conv2d
    followed by BatchNorm2d) and ``fuse_linear_bn_eval`` (Linear followed by BatchNorm1d).

    The first cases have as many input as output channels, so that a scale applied along the wrong axis
    gives a wrong result (recognised) instead of a shape error.
    """
    subject = f"{getattr(fold_bn_into_conv, '__name__', 'answer')} (vs torch.nn.utils.fusion)"
    g = generator(0 if seed is None and not thorough else seed)
    cpu = torch.device("cpu")
    visible = [
        ("conv", dict(in_channels=4, out_channels=4, kernel_size=3, padding=1, bias=True), 1e-5,
         torch.float32),
        ("conv", dict(in_channels=3, out_channels=5, kernel_size=3, stride=2, padding=1, bias=False), 1e-3,
         torch.float32),
        ("linear", dict(in_features=6, out_features=6, bias=True), 1e-5, torch.float32),
    ]
    thorough_table = visible + [
        ("conv", dict(in_channels=3, out_channels=8, kernel_size=(3, 5), stride=(2, 1), padding=(1, 2),
                      dilation=(1, 2), bias=True), 1e-3, torch.float64),
        ("conv", dict(in_channels=2, out_channels=6, kernel_size=1, bias=True), 0.1, torch.float32),
        ("conv", dict(in_channels=5, out_channels=3, kernel_size=2, padding=0, bias=False), 1e-5,
         torch.float64),
        ("linear", dict(in_features=5, out_features=7, bias=False), 1e-3, torch.float64),
        ("linear", dict(in_features=9, out_features=4, bias=True), 1e-5, torch.float32),
    ]
    n = 0
    with one_thread(), no_tf32():
        for device in (devices() if thorough else [cpu]):
            for kind, spec, bn_eps, dtype in (thorough_table if thorough else visible):
                _fold_case(fold_bn_into_conv, kind, spec, bn_eps, dtype, device, g, subject, thorough)
                n += 1
    passed(subject, n)

