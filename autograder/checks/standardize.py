"""Check for lesson 00's ``Standardize``: input statistics adapted once on the training set, then reused.

The contract (the lesson states it): ``Standardize(num_features=None)``; ``adapt(x)`` stores the mean and
the population standard deviation (``unbiased=False``, as NumPy, scikit-learn's ``StandardScaler`` and
Keras' ``Normalization`` use) in the buffers ``mean`` and ``std``: one scalar each when ``num_features`` is
None, one value per feature along dim 1 (the channel axis, as in BatchNorm) otherwise. A feature whose
std is 0 keeps std = 1 (left unscaled, as scikit-learn does) so no output is inf or NaN. ``forward(x)``
returns ``(x - mean) / std`` using the stored statistics, whatever batch it is given. The buffers exist
from construction (shape ``()`` or ``(num_features,)``, mean 0 and std 1) so that a saved ``state_dict``
loads into a fresh module, as with BatchNorm's running statistics.
"""

from __future__ import annotations

import torch

from . import _families as fam
from ._core import (CheckFailure, call, check_not_torch_layer, compare, construct, delegation_mistake, explains, fail,
                    forbid_delegation, generator, mistake, passed, randn, devices, tolerance)

SUBJECT = "Standardize"

mistake("std_unbiased", SUBJECT, "the stored std uses the unbiased estimator (divides by n - 1)",
        "use the population std, x.std(unbiased=False) (or correction=0), as StandardScaler does")
mistake("std_is_var", SUBJECT, "the variance is stored or divided by, not the standard deviation",
        "take the square root of the variance before dividing")
mistake("batch_statistics", SUBJECT, "forward normalizes each batch with its own statistics",
        "compute the statistics only in adapt() and reuse the stored buffers in forward()")
mistake("stats_not_buffers", SUBJECT, "mean/std are not registered buffers, so they are lost from the state_dict",
        "create them with self.register_buffer('mean', ...) and self.register_buffer('std', ...)")
mistake("stats_as_parameters", SUBJECT, "mean/std are nn.Parameters, so an optimizer would train them",
        "statistics are not learned: store them with register_buffer, not nn.Parameter")
mistake("wrong_axes", SUBJECT, "the statistics reduce over the wrong axes",
        "with num_features=C, reduce over every dim except dim 1 (batch and spatial dims); with "
        "num_features=None, over every dim (one number each)")
mistake("std_channels_scrambled", SUBJECT, "flattens with x.reshape(C, -1) (or a view) without moving the features "
        "first, so each row mixes the values of several features",
        "move dim 1 to the front before flattening, x.transpose(0, 1).reshape(C, -1), or reduce over the other "
        "dims directly: x.mean(dims) with dims = every dim except 1")
mistake("std_assumes_4d", SUBJECT, "adapt works only for 4-d (N, C, H, W) input (the dims are written out)",
        "reduce over every dim except 1 of whatever input it gets: dims = [d for d in range(x.dim()) if d != 1]")
mistake("std_buffer_shape", SUBJECT, "stores mean and std with another shape than () or (C,) (e.g. kept dims, "
        "(1, C, 1, 1))", "store them reduced, of shape () or (num_features,) as created in __init__ (keepdim=False, "
        "or .flatten()), and reshape them in forward: a state_dict then loads into a fresh Standardize")
mistake("zero_std_not_handled", SUBJECT, "a constant feature (std 0) produces inf or NaN",
        "replace a zero std by 1 so that constant features are left unscaled")
mistake("adapt_accumulates", SUBJECT, "a second adapt() mixes old and new statistics",
        "adapt() must replace the statistics with those of the data it is given")
delegation_mistake("std_delegates_to_torch", SUBJECT,
                   "compute the statistics with tensor operations (x.mean, x.std(unbiased=False) over the right "
                   "dims) and normalize with (x - mean) / std; torch's normalization functions and layers "
                   "(F.batch_norm, F.layer_norm, nn.BatchNorm1d, ...) are not this exercise")
_KEY = "std_delegates_to_torch"


def _who(Standardize) -> str:
    return f"your {getattr(Standardize, '__name__', 'answer')}"


def _run(Standardize, case, fn, what, *args):
    """``call`` the learner's ``adapt`` or ``forward`` with delegation forbidden."""
    with forbid_delegation(SUBJECT, case, _KEY, _who(Standardize)):
        return call(fn, SUBJECT, case, what, *args)


def _ref_stats(x: torch.Tensor, num_features, unbiased=False, dims=None):
    if num_features is None:
        dims = tuple(range(x.dim()))
    elif dims is None:
        dims = tuple(d for d in range(x.dim()) if d != 1)
    mean = x.double().mean(dims)
    std = x.double().std(dims, unbiased=unbiased)
    std = torch.where(std == 0, torch.ones_like(std), std)
    return mean.to(x.dtype), std.to(x.dtype)


def _bshape(stat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Broadcast per-feature statistics along dim 1 of ``x``."""
    return stat if stat.dim() == 0 else stat.reshape((1, -1) + (1,) * (x.dim() - 2))


def _ref_forward(x, mean, std):
    return (x - _bshape(mean, x)) / _bshape(std, x)


def _cases(thorough: bool):
    # (num_features, train shape, other-data shape, dtype): per-feature cases put the features on dim 1.
    cases = [
        (None, (64, 28, 28), (16, 28, 28), torch.float32),
        (None, (50, 10), (7, 10), torch.float32),
        (10, (50, 10), (7, 10), torch.float32),
        (3, (20, 3, 5, 4), (6, 3, 5, 4), torch.float32),
    ]
    if thorough:
        cases += [
            (None, (37, 3, 4), (5, 3, 4), torch.float64),
            (1, (200, 1), (3, 1), torch.float64),
            (6, (9, 6), (1, 6), torch.float64),
            (4, (8, 4, 3, 7), (2, 4, 3, 7), torch.float64),
            (5, (30, 5, 11), (4, 5, 11), torch.float32),
        ]
    return cases


def check_standardize(Standardize, *, thorough: bool = False, seed: int | None = None) -> None:
    """Check a learner's ``Standardize`` class against the reference contract above."""
    g = generator(0 if (seed is None and not thorough) else seed)
    check_not_torch_layer(Standardize, SUBJECT, "definition", _KEY, _who(Standardize))
    cases = _cases(thorough)
    devs = devices() if thorough else devices()[:1]
    n = 0
    for device in devs:
        for num_features, train_shape, other_shape, dtype in cases:
            n += 1
            case = f"num_features={num_features}, train {tuple(train_shape)}, {str(dtype)[6:]}, {device.type}"
            _check_case(Standardize, g, num_features, train_shape, other_shape, dtype, device, case)
    _check_constant_feature(Standardize, g)
    _check_state_dict(Standardize, g)
    _check_readapt(Standardize, g)
    passed(SUBJECT, n + 3)


def _make(Standardize, num_features, case):
    if num_features is None:
        module = construct(Standardize, SUBJECT, case)
    else:
        module = construct(Standardize, SUBJECT, case, num_features)
    check_not_torch_layer(module, SUBJECT, case, _KEY, _who(Standardize))
    return module


def _check_case(Standardize, g, num_features, train_shape, other_shape, dtype, device, case):
    # Inputs with a mean far from 0 and a scale far from 1, different per feature, so mistakes show.
    scale = randn((train_shape[1],) if num_features else (), g, torch.float64).abs() * 3 + 0.5
    shift = randn((train_shape[1],) if num_features else (), g, torch.float64) * 4 + 2
    if num_features:
        scale, shift = _bshape(scale, torch.empty(train_shape)), _bshape(shift, torch.empty(train_shape))
    x_train = (randn(train_shape, g, torch.float64) * scale + shift).to(device, dtype)
    x_other = (randn(other_shape, g, torch.float64) * scale * 2 + shift - 1).to(device, dtype)
    keep = x_train.clone()

    module = _make(Standardize, num_features, case)
    if not isinstance(module, torch.nn.Module):
        fail(SUBJECT, case, "Standardize should subclass nn.Module.")
    module = module.to(device=device, dtype=dtype)
    try:
        _run(Standardize, case, module.adapt, "adapt(x)", x_train)
    except CheckFailure as failure:
        _diagnose_adapt(failure, Standardize, g, num_features, x_train, case)
        raise
    if not bool((x_train == keep).all()):
        fail(SUBJECT, case, "adapt(x) changed its input in place; it must only read it.")

    buffers = dict(module.named_buffers())
    params = dict(module.named_parameters())
    if "mean" in params or "std" in params:
        fail(SUBJECT, case, "mean and std are registered as parameters.", "stats_as_parameters")
    if "mean" not in buffers or "std" not in buffers:
        fail(SUBJECT, case, "the module has no buffers named 'mean' and 'std' after adapt().", "stats_not_buffers")
    mean, std = buffers["mean"], buffers["std"]

    ref_mean, ref_std = _ref_stats(x_train, num_features)
    compare(mean.reshape(ref_mean.shape) if mean.numel() == ref_mean.numel() else mean, ref_mean,
            subject=SUBJECT, case=case, what="the stored mean",
            family=lambda: _near_miss(mean, ref_mean, x_train, num_features, "mean"))
    compare(std.reshape(ref_std.shape) if std.numel() == ref_std.numel() else std, ref_std,
            subject=SUBJECT, case=case, what="the stored std",
            family=lambda: _near_miss(std, ref_std, x_train, num_features, "std"))
    # the right values in buffers whose shape changed in adapt: a saved state_dict no longer fits a fresh module
    fresh = dict(_make(Standardize, num_features, case).named_buffers())
    for name, stored in (("mean", mean), ("std", std)):
        if name in fresh and tuple(stored.shape) != tuple(fresh[name].shape):
            fail(SUBJECT, case, f"the stored {name} has the right values but the shape {tuple(stored.shape)}, where "
                 f"a new Standardize has {tuple(fresh[name].shape)}: its state_dict would not load into one.",
                 "std_buffer_shape")

    # On new data the stored training statistics are used, not the new batch's.
    try:
        out = _run(Standardize, case, module, "forward(x) on validation data", x_other)
    except CheckFailure as failure:
        _diagnose_broadcast(failure, Standardize, module, g, num_features, x_other, case)
        raise
    ref_m_other, ref_s_other = _ref_stats(x_other, num_features)
    compare(out, _ref_forward(x_other, ref_mean, ref_std), subject=SUBJECT, case=case,
            what="the output on validation data", mistakes={
                "batch_statistics": lambda: _ref_forward(x_other, ref_m_other, ref_s_other),
                "std_is_var": lambda: _ref_forward(x_other, ref_mean, ref_std ** 2),
                "norm_precedence": lambda: x_other - _bshape(ref_mean, x_other) / _bshape(ref_std, x_other),
            })


def _groupings(x, num_features):
    """(deviations, key, label, reduce) for every way of taking statistics: the contract's first."""
    d = x.dim()
    right = tuple(range(d)) if num_features is None else tuple(i for i in range(d) if i != 1)
    out = [((), None, f"over dims {right}", lambda t: (t, right))]
    for dims in fam.subsets(d):
        if dims != right:
            out.append((("wrong_axes",), "wrong_axes", f"over dims {dims}", lambda t, dims=dims: (t, dims)))
    if num_features is not None and d > 2:
        out.append((("scrambled",), "std_channels_scrambled", "over the rows of x.reshape(C, -1)",
                    lambda t: (t.reshape(num_features, -1), (1,))))
    return out


_SPREADS = {  # how the stored spread is computed from the variance: (deviations, key, text)
    "std": ((), None, "the std"),
    "var": (("var",), "std_is_var", "the variance"),
    "sqrt(std)": (("sqrt_of_std",), "norm_sqrt_of_std", "sqrt(std)"),
}


def _near_miss(stored, expected, x, num_features, which):
    """``(key, description)`` of the simplest wrong way of computing the stored ``mean`` or ``std`` that gives
    what the answer stored: other dims (any set), rows of a reshape that mixes features, the unbiased
    estimator, the variance or the square root of the std (``_families.match``)."""
    if type(stored) is not torch.Tensor:
        return None
    x64 = x.detach().to("cpu", torch.float64)
    candidates = []
    for devs, key, label, reduce in _groupings(x64, num_features):
        if which == "mean":
            if devs:
                candidates.append((len(devs), key, f"the mean {label}",
                                   lambda reduce=reduce: _mean(reduce(x64))))
            continue
        for unbiased in (False, True):
            for spread, (more, spread_key, text) in _SPREADS.items():
                n = len(devs) + len(more) + unbiased
                if n == 0 or n > 2:
                    continue
                first = key or spread_key or "std_unbiased"
                estimator = "unbiased" if unbiased else "population"
                candidates.append((n, first, f"{text} ({estimator}) {label}",
                                   lambda reduce=reduce, unbiased=unbiased, spread=spread:
                                   _spread(reduce(x64), unbiased, spread)))
    candidates.sort(key=lambda c: c[0])
    actual = stored.detach().reshape(expected.shape) if stored.numel() == expected.numel() else stored.detach()
    return fam.match(actual, expected, candidates, tolerance(expected.dtype))


def _mean(view):
    t, dims = view
    return t.mean(dims)


def _spread(view, unbiased, spread):
    t, dims = view
    std = t.std(dims, unbiased=unbiased)
    std = torch.where(std == 0, torch.ones_like(std), std)
    return {"std": std, "var": std ** 2, "sqrt(std)": std.sqrt()}[spread]


def _diagnose_adapt(failure, Standardize, g, num_features, x, case):
    """An adapt that raised: does it work on the same data as a 4-d tensor (dims written out for 4-d input), or,
    after a broadcasting error, compute the std from a mean broadcast against the last dim?"""
    if num_features is None or failure.mistake is not None:
        return
    message = str(failure).split(": ", 1)[-1]
    fresh = _make(Standardize, num_features, case).to(device=x.device, dtype=x.dtype)
    if x.dim() != 4:
        try:
            _run(Standardize, case, fresh.adapt, "adapt(x)", x.reshape(x.shape[0], x.shape[1], -1, 1))
        except CheckFailure:
            return
        buffers = dict(fresh.named_buffers())
        mean, std = _ref_stats(x, num_features)
        tol = tolerance(x.dtype)
        if "mean" in buffers and "std" in buffers and buffers["mean"].numel() == mean.numel() and explains(
                buffers["std"].reshape(std.shape), std, None, tol):
            fail(SUBJECT, case, f"{message}. The same data as an (N, C, L, 1) tensor works.", "std_assumes_4d")
        return
    if "must match the size of tensor" not in message:
        return
    probe = randn((5, num_features, 2, num_features), g, torch.float64, x.device, scale=2.0, shift=1.0).to(x.dtype)
    try:
        _run(Standardize, case, fresh.adapt, "adapt(x)", probe)
    except CheckFailure:
        return
    std = dict(fresh.named_buffers()).get("std")
    if type(std) is not torch.Tensor:
        return
    dims = [d for d in range(probe.dim()) if d != 1]
    p64 = probe.double()
    centred = p64 - p64.mean(dims)  # the (C,) mean broadcast against the last dim
    n = p64.numel() // num_features
    candidates = [((centred ** 2).sum(dims) / n).sqrt(), ((centred ** 2).sum(dims) / (n - 1)).sqrt()]
    right = _ref_stats(probe, num_features)[1]
    if any(explains(std.reshape(-1), c, right, tolerance(x.dtype)) for c in candidates):
        fail(SUBJECT, case, f"{message}. On an input whose last dim has C values, your adapt subtracts the (C,) mean "
             "along that last dim.", "norm_broadcast_wrong_dims")


def _diagnose_broadcast(failure, Standardize, module, g, num_features, x, case):
    """A forward that raised a broadcasting error on per-feature statistics: on an input whose last dim has C
    values, does it compute (x - mean) / std with the (C,) buffers broadcast against that last dim?"""
    if num_features is None or x.dim() <= 2 or "must match the size of tensor" not in str(failure):
        return
    probe = randn((2, num_features, 2, num_features), g, torch.float64, x.device).to(x.dtype)
    try:
        out = _run(Standardize, case, module, "forward(x)", probe)
    except CheckFailure:
        return
    buffers = dict(module.named_buffers())
    if type(out) is not torch.Tensor or "mean" not in buffers or "std" not in buffers:
        return
    misaligned = (probe - buffers["mean"].reshape(-1)) / buffers["std"].reshape(-1)
    right = (probe - _bshape(buffers["mean"].reshape(-1), probe)) / _bshape(buffers["std"].reshape(-1), probe)
    if explains(out, misaligned, right, tolerance(x.dtype)):
        fail(SUBJECT, case, str(failure).split(": ", 1)[-1] + ". On an input whose last dim has C values, your "
             "forward broadcasts the (C,) mean and std against that last dim.", "norm_broadcast_wrong_dims")


def _check_constant_feature(Standardize, g):
    case = "a constant feature (std 0)"
    x = randn((32, 4), g) * 2 + 1
    x[:, 2] = 5.0
    module = _make(Standardize, 4, case)
    _run(Standardize, case, module.adapt, "adapt(x)", x)
    out = _run(Standardize, case, module, "forward(x)", x)
    if not bool(torch.isfinite(out).all()):
        fail(SUBJECT, case, "the output contains inf or NaN.", "zero_std_not_handled")
    mean, std = _ref_stats(x, 4)
    compare(out, _ref_forward(x, mean, std), subject=SUBJECT, case=case, what="the output")


def _check_state_dict(Standardize, g):
    case = "state_dict saved and loaded into a fresh Standardize(3)"
    x = randn((40, 3, 2, 2), g, scale=3, shift=2)
    trained = _make(Standardize, 3, case)
    _run(Standardize, case, trained.adapt, "adapt(x)", x)
    state = trained.state_dict()
    if "mean" not in state or "std" not in state:
        fail(SUBJECT, case, f"state_dict() has keys {sorted(state)}, expected 'mean' and 'std'.", "stats_not_buffers")
    fresh = _make(Standardize, 3, case)
    call(fresh.load_state_dict, SUBJECT, case, "load_state_dict", state)
    mean, std = _ref_stats(x, 3)
    compare(_run(Standardize, case, fresh, "forward(x)", x[:5]), _ref_forward(x[:5], mean, std),
            subject=SUBJECT, case=case, what="the output of the reloaded module")


def _check_readapt(Standardize, g):
    case = "adapt() called a second time on other data"
    first, second = randn((30, 5), g, scale=2, shift=3), randn((30, 5), g, scale=0.5, shift=-1)
    module = _make(Standardize, None, case)
    _run(Standardize, case, module.adapt, "adapt(x)", first)
    _run(Standardize, case, module.adapt, "adapt(x)", second)
    mean, std = _ref_stats(second, None)
    buffers = dict(module.named_buffers())
    if "mean" not in buffers or "std" not in buffers:
        fail(SUBJECT, case, "the module has no buffers named 'mean' and 'std' after adapt().", "stats_not_buffers")
    compare(buffers["mean"].reshape(()) if buffers["mean"].numel() == 1 else buffers["mean"], mean,
            subject=SUBJECT, case=case, what="the stored mean",
            mistakes={"adapt_accumulates": lambda: torch.cat([first, second]).mean()})
    compare(buffers["std"].reshape(()) if buffers["std"].numel() == 1 else buffers["std"], std,
            subject=SUBJECT, case=case, what="the stored std")
