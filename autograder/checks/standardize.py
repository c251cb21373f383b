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

from ._core import (call, check_not_torch_layer, compare, construct, delegation_mistake, fail, forbid_delegation,
                    generator, mistake, passed, randn, devices)

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
mistake("wrong_axes", SUBJECT, "per-feature statistics reduce over the wrong axes",
        "with num_features=C, reduce over every dim except dim 1 (batch and spatial dims)")
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
    _run(Standardize, case, module.adapt, "adapt(x)", x_train)
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
    wrong_axes = {} if num_features is None else {
        "wrong_axes": lambda: _ref_stats(x_train, num_features, dims=(0,))[0],
    }
    compare(mean.reshape(ref_mean.shape) if mean.numel() == ref_mean.numel() else mean, ref_mean,
            subject=SUBJECT, case=case, what="the stored mean", mistakes=wrong_axes)
    compare(std.reshape(ref_std.shape) if std.numel() == ref_std.numel() else std, ref_std,
            subject=SUBJECT, case=case, what="the stored std", mistakes={
                "std_unbiased": lambda: _ref_stats(x_train, num_features, unbiased=True)[1],
                "std_is_var": lambda: ref_std ** 2,
                **({} if num_features is None else
                   {"wrong_axes": lambda: _ref_stats(x_train, num_features, dims=(0,))[1]}),
            })

    # On new data the stored training statistics are used, not the new batch's.
    out = _run(Standardize, case, module, "forward(x) on validation data", x_other)
    ref_m_other, ref_s_other = _ref_stats(x_other, num_features)
    compare(out, _ref_forward(x_other, ref_mean, ref_std), subject=SUBJECT, case=case,
            what="the output on validation data", mistakes={
                "batch_statistics": lambda: _ref_forward(x_other, ref_m_other, ref_s_other),
                "std_is_var": lambda: _ref_forward(x_other, ref_mean, ref_std ** 2),
            })


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
