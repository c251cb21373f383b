"""Check for lesson 01's ``append_stats``: a forward-hook function that records activation statistics.

The contract (the lesson states it): ``append_stats(hook, module, inputs, output)`` is called by
``normlab.Hook`` after every forward pass of ``module``. On its first call it creates
``hook.stats = ([], [], [])`` -- three lists ``(means, stds, hists)`` -- and on every call it appends,
for that batch's **output**:

* ``output.mean()`` and ``output.std()`` (torch's default, unbiased std), each as a Python float or a
  0-d tensor that is detached from the graph and on the CPU;
* ``output.detach().abs().histc(40, 0, 10).cpu()``: counts of the absolute activations in 40 equal bins
  over [0, 10] (values above 10 are not counted), as fastai's course does.

The check calls the answer through real ``nn.Module`` forward hooks (``register_forward_hook``) on small
models in training mode whose parameters require gradients, over several batches whose activations have
a non-zero mean and negative values, so the catalogued mistakes below change what is stored.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from ._core import (_Tensor, _type, compare, devices, explains, fail, generator, mistake, no_tf32, passed, randn,
                    tolerance)

SUBJECT = "append_stats"
BINS, LO, HI = 40, 0.0, 10.0

mistake("hook_not_detached", SUBJECT, "the stored statistics are still attached to the autograd graph "
        "(they keep every batch's activations and graph alive)",
        "store output.mean().item() / output.std().item(), or call .detach() on the output first")
mistake("hook_input_not_output", SUBJECT, "the statistics are those of the module's input, not of its output",
        "use the `output` argument; `inputs` is the tuple of arguments the module received")
mistake("hook_std_is_var", SUBJECT, "the variance is stored instead of the standard deviation",
        "store output.std(), the square root of the variance")
mistake("hook_std_biased", SUBJECT, "the std uses the biased (population) estimator",
        "use torch's default output.std() (unbiased, divides by n - 1), as the lesson specifies")
mistake("hook_mean_of_abs", SUBJECT, "the stored mean is the mean of |output| (as for the histogram), not of output",
        "store output.mean(): the sign matters here (only the histogram counts absolute values)")
mistake("hook_std_per_feature", SUBJECT, "the stored std averages stds taken per unit (or per channel) instead of "
        "the std of all the output's values",
        "take one std over every element: output.std() (a per-unit std leaves out how far apart the units are)")
mistake("hook_stat_not_scalar", SUBJECT, "stores a tensor of per-unit (or per-channel) statistics instead of one "
        "number for the whole output", "reduce over every element: output.mean() and output.std(), then .item()")
mistake("hook_overwrites", SUBJECT, "each call replaces the earlier statistics instead of appending to them",
        "create hook.stats = ([], [], []) only when the hook has no `stats` yet, then append to each list")
mistake("hook_hist_no_abs", SUBJECT, "the histogram counts the activations themselves, not their absolute values",
        "use output.detach().abs().histc(40, 0, 10)")
mistake("hook_hist_wrong_bins", SUBJECT, "the histogram has the wrong number of bins or the wrong range",
        "use exactly histc(40, 0, 10): 40 bins over [0, 10] of the absolute activations")


class _Hook:
    """A trusted stand-in for ``normlab.Hook`` (the answer cell cannot have replaced it)."""

    def __init__(self, module: nn.Module, fn):
        self.module = module
        self.handle = module.register_forward_hook(partial(fn, self))


def _models(thorough: bool):
    """(name, builder, input shape, batches, dtype, which modules to hook)."""
    mlp = lambda: nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 10), nn.Tanh(), nn.Linear(10, 6))
    cnn = lambda: nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3, stride=2),
                                nn.Flatten(), nn.Linear(20, 7))
    cases = [
        ("MLP, 3 batches of (32, 8)", mlp, (32, 8), 3, torch.float32, (0, 1, 2, 4)),
        ("CNN, 2 batches of (6, 2, 9, 9)", cnn, (6, 2, 9, 9), 2, torch.float64, (0, 1, 2, 4)),
    ]
    if thorough:
        cases += [
            ("MLP, 5 batches of (7, 8)", mlp, (7, 8), 5, torch.float64, (0, 2, 3, 4)),
            ("CNN, 4 batches of (3, 2, 12, 12)", cnn, (3, 2, 12, 12), 4, torch.float32, (0, 2, 4)),
            ("MLP, 1 batch of (64, 8)", mlp, (64, 8), 1, torch.float32, (4,)),
        ]
    return cases


def _init(model: nn.Module, g: torch.Generator) -> None:
    """Weights from the check's own generator (the global RNG is left alone); biases shift the mean."""
    with torch.no_grad():
        for p in model.parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 1
            scale = 1.5 / fan_in ** 0.5 if p.dim() > 1 else 0.8
            shift = 0.0 if p.dim() > 1 else 0.7
            p.copy_(randn(p.shape, g, torch.float64, scale=scale, shift=shift))


def check_append_stats(append_stats, *, thorough: bool = False, seed: int | None = None) -> None:
    """Check a learner's ``append_stats`` hook function against the contract above."""
    g = generator(0 if (seed is None and not thorough) else seed)
    n = 0
    devs = devices() if thorough else devices()[:1]
    with no_tf32():
        for device in devs:
            for name, build, shape, batches, dtype, hooked in _models(thorough):
                n += 1
                case = f"{name}, {str(dtype)[6:]}, {device.type}"
                _check_case(append_stats, g, build, shape, batches, dtype, device, hooked, case)
    passed(SUBJECT, n, " (statistics recorded through real forward hooks)")


def _check_case(append_stats, g, build, shape, batches, dtype, device, hooked, case):
    model = build()
    _init(model, g)
    model = model.to(device=device, dtype=dtype).train()
    modules = [model[i] for i in hooked]
    seen = {id(m): [] for m in modules}

    def record(module, inputs, output):  # the check's own record of what each hooked module saw
        seen[id(module)].append((inputs[0].detach().clone(), output.detach().clone()))

    handles = [m.register_forward_hook(record) for m in modules]
    hooks = [_Hook(m, append_stats) for m in modules]
    try:
        for b in range(batches):
            x = randn(shape, g, dtype, device, scale=2.0, shift=1.0 + 0.5 * b)
            try:
                model(x)
            except Exception as e:  # noqa: BLE001 - the answer runs inside the forward pass
                fail(SUBJECT, case, f"the forward pass with your hook raised {type(e).__name__}: {e}")
    finally:
        for h in handles + [hk.handle for hk in hooks]:
            h.remove()

    for i, (module, hook) in enumerate(zip(modules, hooks)):
        where = f"{case}, hook on layer {hooked[i]} ({type(module).__name__})"
        _check_hook(hook, seen[id(module)], where)


def _check_hook(hook, seen, case):
    stats = getattr(hook, "stats", None)
    if stats is None:
        fail(SUBJECT, case, "hook.stats was not set: create it on the first call, hook.stats = ([], [], []).")
    if not isinstance(stats, (tuple, list)) or len(stats) != 3 or not all(isinstance(s, list) for s in stats):
        fail(SUBJECT, case, f"hook.stats should be a tuple of three lists (means, stds, hists), got {stats!r:.200}.")
    means, stds, hists = stats
    batches = len(seen)
    for what, values in (("means", means), ("stds", stds), ("hists", hists)):
        if len(values) != batches:
            key = "hook_overwrites" if len(values) == 1 and batches > 1 else None
            fail(SUBJECT, case, f"after {batches} forward passes hook.stats holds {len(values)} {what}, "
                 f"expected one per pass ({batches}).", key)
    for b, (inp, out) in enumerate(seen):
        at = f"{case}, batch {b}"
        _compare_scalar(means[b], out.mean(), at, "the stored mean", {
            "hook_input_not_output": lambda inp=inp: inp.mean(),
            "hook_mean_of_abs": lambda out=out: out.abs().mean(),
        }, per_unit=lambda out=out: _per_unit(out, lambda t, d: t.mean(d)))
        _compare_scalar(stds[b], out.std(), at, "the stored std", {
            "hook_input_not_output": lambda inp=inp: inp.std(),
            "hook_std_is_var": lambda out=out: out.var(),
            "hook_std_biased": lambda out=out: out.std(unbiased=False),
            "hook_std_per_feature": lambda out=out: _per_unit_stds(out),
        }, per_unit=lambda out=out: _per_unit(out, lambda t, d: t.std(d)) + _per_unit(
            out, lambda t, d: t.std(d, unbiased=False)))
        _compare_hist(hists[b], out, inp, at)


def _per_unit(out, stat):
    """A statistic taken over one dim, or per channel (over every dim but 1), on the CPU."""
    dims = [(d,) for d in range(out.dim())] + ([tuple(d for d in range(out.dim()) if d != 1)]
                                               if out.dim() > 2 else [])
    return [stat(out, d).cpu() for d in dims]


def _per_unit_stds(out):
    """The average of stds taken over one dim (per unit, per sample, ...) or per channel, both estimators."""
    dims = [(d,) for d in range(out.dim())]
    if out.dim() > 2:
        dims.append(tuple(d for d in range(out.dim()) if d != 1))
    return [out.std(d, unbiased=u).mean() for d in dims for u in (True, False) if out.shape[d[0]] > 1]


def _plain(value, what, case) -> torch.Tensor:
    """A stored statistic as a plain tensor, after checking it is detached and on the CPU."""
    if isinstance(value, float):  # a Python float (or NumPy's float64, a float subclass)
        return torch.tensor(float.__float__(value), dtype=torch.float64)
    if _type(value) is not _Tensor:
        fail(SUBJECT, case, f"{what} should be a Python float or a torch.Tensor, got {_type(value).__name__}.")
    if value.requires_grad or value.grad_fn is not None:
        fail(SUBJECT, case, f"{what} requires grad (grad_fn={type(value.grad_fn).__name__}).", "hook_not_detached")
    if value.device.type != "cpu":
        fail(SUBJECT, case, f"{what} is on {value.device}; a hook that keeps GPU tensors fills GPU memory and "
             "makes plotting fail. Fix: move it to the CPU inside the hook with .cpu() (or store .item()).")
    return value


def _compare_scalar(value, expected, case, what, mistakes, per_unit=None):
    actual = _plain(value, what, case)
    if actual.numel() != 1:
        key = None
        if per_unit is not None and any(
                explains(actual, c, None, tolerance(c.dtype)) for c in per_unit()):
            key = "hook_stat_not_scalar"
        fail(SUBJECT, case, f"{what} should be a single number, got a tensor of shape {tuple(actual.shape)}.", key)
    dtype = expected.dtype
    wrong = {k: (lambda f=f: _scalars(f())) for k, f in mistakes.items()}
    compare(actual.reshape(()).to(dtype), expected.to("cpu").reshape(()), subject=SUBJECT, case=case,
            what=what, mistakes=wrong)


def _scalars(found) -> list:
    """A model's value(s) as 0-d CPU tensors (a model may give several candidates)."""
    return [t.to("cpu").reshape(()) for t in ([found] if isinstance(found, _Tensor) else found)]


def _compare_hist(value, out, inp, case):
    what = "the stored histogram"
    actual = _plain(value, what, case)
    expected = out.abs().histc(BINS, LO, HI).to("cpu", torch.float64)
    if tuple(actual.shape) != (BINS,):
        fail(SUBJECT, case, f"{what} has shape {tuple(actual.shape)}, expected ({BINS},).",
             "hook_hist_wrong_bins" if actual.dim() == 1 else None)
    compare(actual.to(torch.float64), expected, subject=SUBJECT, case=case, what=what, mistakes={
        "hook_input_not_output": lambda: inp.abs().histc(BINS, LO, HI).to("cpu", torch.float64),
        "hook_hist_no_abs": lambda: out.histc(BINS, LO, HI).to("cpu", torch.float64),
        "hook_hist_wrong_bins": lambda: _wrong_range(actual, out),
    })


def _wrong_range(actual, out):
    """The first 40-bin histogram over a usual wrong range that matches what was stored."""
    a = out.abs()
    candidates = [a.histc(BINS), a.histc(BINS, -HI, HI), a.histc(BINS, 0, 1), out.histc(BINS, -HI, HI),
                  out.histc(BINS), a.histc(BINS, 0, 20), a.histc(BINS, 0, 5)]
    for c in candidates:
        c = c.to("cpu", torch.float64)
        if torch.equal(c, actual.to(torch.float64)):
            return c
    return candidates[0].to("cpu", torch.float64)
