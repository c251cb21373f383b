"""Checks for the ``BatchNorm1d`` / ``BatchNorm2d`` exercise: the learner's layer against torch's own.

The learner's class mirrors ``nn.BatchNorm1d/2d(num_features, eps=1e-5, momentum=0.1, affine=True,
track_running_stats=True)``, so the reference is simply torch's layer built with the same arguments and put
in the same state. Each *scenario* builds both layers, checks the structure the API promises (parameter and
buffer names, registration, initial values, the flags), then runs a sequence of train/eval steps on the
same random inputs, comparing after every step the output, the running statistics, ``num_batches_tracked``
and the gradients for a random upstream gradient.

Diagnosis: every catalogued numerical mistake is described by a ``Flaw`` (a switch in ``model_step``, a
float64 batch norm that can be wrong in exactly one way). When a comparison fails, the whole history of
the scenario is replayed through each flawed model and the mistake whose model reproduces the learner's
result element by element (and not the reference's, nor contradicts what the learner got right) is named.
How the normalization itself is computed (which dims, estimator, eps, square root, reshapes, keepdim, ...)
is recognised by its effect instead, as the simplest near miss of ``bn_family`` (``_families``) whose
replay gives the learner's output; a broadcasting error is probed on an input where (C,) vectors do
broadcast. Structural mistakes (a Parameter where a buffer belongs, wrong initial values, ...) are diagnosed
directly.

Inputs have one distribution per channel (scales from 0.01 to 3, means up to 3 standard deviations away
from zero): a tiny-variance channel is what makes a misplaced ``eps`` visible, a large one what makes the
n versus n-1 of the variance visible, and different channels are what make wrong reduction axes visible.

Not checked, on purpose: a training batch with a single value per channel ((1, C), or (1, C, 1, 1)) where
torch raises ``ValueError``; the lesson does not ask for that guard, so such input is never given (neither
as a pass nor as a failure). Nor the ``device``/``dtype`` factory arguments and the keyword-only ``bias``
flag of recent torch versions, which are not part of the exercise's constructor.

Visible (``thorough=False``): five CPU scenarios, deterministic (seed 0), about 15 steps, ~0.05 s.
Hidden (``thorough=True``): 19 scenarios per device on fresh random inputs (both dtypes, every flag,
N = 1, 1x1 spatial size, channels_last / transposed / sliced memory, a loaded state_dict, three random
scenarios), CUDA when present, and the layer trained inside a small nn.Sequential against torch's.
Both levels include ``momentum=0.0``, with which torch's running statistics keep their values (a truth test
such as ``momentum or ...`` takes it for None).

Written by hand: the layer runs inside ``forbid_delegation`` (``_core``), so a layer that derives from or holds
torch's batch norm, or calls ``F.batch_norm`` or a batch-norm kernel, fails at its first forward with
``bn_delegates_to_torch`` -- torch's layers here are the reference, not the answer.
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass, replace
from typing import Callable

import torch
from torch import nn

from . import _families as fam
from ._core import (
    CheckFailure,
    Tolerance,
    as_plain_tensor,
    call,
    check_not_torch_layer,
    close,
    compare,
    construct,
    delegation_mistake,
    devices,
    fail,
    forbid_delegation,
    generator,
    max_error,
    mistake,
    no_tf32,
    passed,
    randn,
    tolerance,
)

# References and Module machinery, captured when this module is imported. An answer cell that later
# replaces ``nn.BatchNorm2d`` or ``Module.named_parameters`` does not change what the check uses; one that
# did so *before* the first check imported this module is caught in thorough mode, where the reference is
# also compared with an independent float64 computation (``model_step``).
_REFERENCE = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}
_Module = nn.Module
_Tensor = torch.Tensor
_Parameter = nn.Parameter
_named_parameters = nn.Module.named_parameters
_named_buffers = nn.Module.named_buffers
_state_dict = nn.Module.state_dict
_grad = torch.autograd.grad
_deepcopy = copy.deepcopy
_type = type
_EXACT = Tolerance(rtol=0.0, atol=0.0)

LAYER = "BatchNorm1d/BatchNorm2d"
_STAT_DIMS = "every dimension except the channel dimension 1"

# ---------------------------------------------------------------------------------------------------------
# The catalogue. Keys are prefixed ``bn_`` because the catalogue is shared by every lesson's checks.
for _key, _name, _fix in [
    ("bn_unbiased_var_normalize", "normalizes with the unbiased variance (divides by n - 1)",
     "normalize with the biased variance (mean of the squared deviations, divided by n = values per "
     "channel); the unbiased one is only for updating running_var."),
    ("bn_running_var_biased", "stores the biased batch variance in running_var",
     "update running_var with the unbiased variance (the biased one times n / (n - 1), n = values per "
     "channel), as torch does; normalize with the biased one."),
    ("bn_eps_outside_sqrt", "adds eps after the square root: (x - mean) / (sqrt(var) + eps)",
     "put eps inside the square root: divide by sqrt(var + eps)."),
    ("bn_missing_sqrt", "divides by var + eps instead of its square root",
     "divide by the standard deviation sqrt(var + eps), not by the variance."),
    ("bn_wrong_axes_per_sample", "computes the statistics per sample instead of across the batch",
     f"reduce over the batch and every spatial dimension so that each channel gets one mean and one "
     f"variance ({_STAT_DIMS})."),
    ("bn_wrong_axes_batch_only", "reduces over the batch dimension only (statistics per position)",
     f"reduce over the spatial dimensions too: each channel has one mean and one variance ({_STAT_DIMS})."),
    ("bn_wrong_axes_all", "takes one mean and one variance over the whole tensor (x.mean(), x.var()), all "
     "channels together",
     f"each channel gets its own statistics: reduce over {_STAT_DIMS}, e.g. x.mean(dim=(0, 2, 3))."),
    ("bn_channels_scrambled", "reshapes the input to rows or columns without moving the channels into place first "
     "(x.reshape(C, -1) or x.view(-1, C) of an (N, C, ...) tensor), so each row mixes values of several channels",
     "move the channel dimension first, x.transpose(0, 1).reshape(C, -1), or last, x.movedim(1, -1).reshape(-1, C), "
     "before flattening; or skip the reshape and reduce over dims (0, 2, 3) directly."),
    ("bn_running_var_is_std", "stores a standard deviation (x.std) in running_var",
     "running_var holds a variance: update it with the unbiased batch variance, x.var(dims) (or the biased one "
     "times n / (n - 1)), not with x.std(dims)."),
    ("bn_modifies_input", "modifies its input x in place (x -= mean, x.sub_(...), ...)",
     "compute new tensors (centred = x - mean): the input belongs to the caller, and autograd needs it (in-place "
     "changes to an input that requires grad raise an error)."),
    ("bn_num_batches_tracked_dtype", "creates num_batches_tracked with another dtype than torch.long",
     "register it as torch.tensor(0, dtype=torch.long): it counts batches, and torch's state_dicts hold an int64 "
     "there."),
    ("bn_keras_momentum",
     "reads momentum the Keras way: running = momentum * running + (1 - momentum) * batch",
     "in PyTorch momentum is the weight of the new batch: running = (1 - momentum) * running + "
     "momentum * batch."),
    ("bn_running_stats_updated_in_eval", "updates the running statistics in eval mode",
     "update running_mean, running_var and num_batches_tracked only when self.training is True."),
    ("bn_running_stats_never_updated", "never updates running_mean / running_var in training",
     "in training mode, after computing the batch statistics, update the running buffers in place, "
     "weighted by momentum."),
    ("bn_running_stats_not_detached", "puts the running statistics in the autograd graph",
     "update the buffers from detached batch statistics (or under torch.no_grad()), so that they never "
     "require grad."),
    ("bn_running_stats_as_parameters", "registers running_mean / running_var as nn.Parameter",
     "register them with self.register_buffer(...): they are state, not weights for the optimizer."),
    ("bn_buffer_not_registered", "keeps the running statistics as plain attributes, not buffers",
     "create them with self.register_buffer(name, tensor) so that .to(device), state_dict() and "
     "load_state_dict() include them (running_mean, running_var and num_batches_tracked)."),
    ("bn_num_batches_tracked_not_counted", "does not count num_batches_tracked",
     "add 1 to num_batches_tracked on every training forward that tracks running statistics (torch counts "
     "even when momentum is a number)."),
    ("bn_momentum_zero_as_none", "treats momentum=0 as if no momentum were given (a truth test such as "
     "`momentum or ...` or `if not momentum`)",
     "test `momentum is None` (cumulative average), never the truth of momentum: momentum=0.0 is a valid "
     "value with which the running statistics keep their current values (num_batches_tracked still counts)."),
    ("bn_momentum_none_not_cumulative", "does not implement momentum=None as a cumulative average",
     "when momentum is None use the factor 1 / num_batches_tracked (after adding this batch), so the "
     "running statistics are the plain average over all batches seen."),
    ("bn_affine_before_normalize", "applies weight and bias before normalizing",
     "normalize first, then scale and shift: weight * x_hat + bias (normalizing afterwards undoes them)."),
    ("bn_weight_bias_wrong_init", "does not initialize weight to ones and bias to zeros",
     "start with weight = ones and bias = zeros, so that a fresh layer only normalizes."),
    ("bn_running_stats_wrong_init", "initializes the running statistics wrongly",
     "start with running_mean = zeros, running_var = ones and num_batches_tracked = 0 (a long tensor)."),
    ("bn_train_uses_running_stats", "normalizes with the running statistics in training mode too",
     "in training mode normalize with the batch's own mean and biased variance; the running statistics are only "
     "updated there, and used in eval mode."),
    ("bn_eval_skips_affine", "leaves out weight and bias in eval mode",
     "scale and shift in both modes: weight * x_hat + bias, whichever statistics x_hat was normalized with."),
    ("bn_eval_uses_batch_stats", "normalizes with the batch statistics in eval mode",
     "in eval mode (self.training is False) normalize with running_mean and running_var when they are "
     "tracked."),
    ("bn_track_running_stats_ignored", "keeps or uses running statistics although track_running_stats=False",
     "with track_running_stats=False set running_mean, running_var and num_batches_tracked to None and "
     "normalize with the batch statistics in both modes."),
    ("bn_affine_flag_ignored", "creates weight and bias although affine=False",
     "with affine=False set weight and bias to None (register_parameter(name, None)) and skip the scale "
     "and shift."),
    ("bn_batch_stats_detached", "detaches the batch mean or variance in training",
     "let gradients flow through the batch mean and variance; only the running statistics are detached."),
    ("bn_eps_ignored", "ignores the eps argument",
     "store the eps given to the constructor (self.eps) and use it instead of a constant."),
    ("bn_assumes_contiguous", "fails on non-contiguous memory: non-contiguous or channels_last input, or .view "
     "of a tensor that a permute or transpose made non-contiguous",
     "use reshape (or .contiguous() before .view) and never assume a memory layout: transposed, sliced "
     "and channels_last tensors are valid input, and permute/transpose return non-contiguous views."),
    ("bn_batch_of_one_uses_running_stats", "treats a training batch of one sample like eval mode",
     "in training the statistics are taken over all N * H * W (or N * L) values of a channel, so one "
     "sample with spatial dimensions is a valid batch: use its statistics and update the running ones."),
    ("bn_torch_names_not_used", "names or registers its parameters and buffers differently from torch",
     "use exactly weight, bias, running_mean, running_var and num_batches_tracked and register nothing "
     "else, so that torch's state_dicts load into the layer."),
    ("bn_affine_not_parameters", "keeps weight and bias as plain tensors, not nn.Parameter",
     "wrap them in nn.Parameter so that the optimizer trains them and state_dict() contains them."),
    ("bn_squeeze_drops_dims", "squeezes away size-1 dimensions (the batch dimension when N = 1)",
     "return a tensor of the input's shape: squeeze or unsqueeze a named dimension, never call a bare "
     "squeeze()."),
]:
    mistake(_key, LAYER, _name, _fix)
delegation_mistake(
    "bn_delegates_to_torch", LAYER,
    "subclass nn.Module (not nn.BatchNorm1d/2d or torch's _BatchNorm/_NormBase), hold no torch norm layer, and "
    "compute the normalization with tensor operations: the batch mean and biased variance (x.mean, "
    "x.var(unbiased=False) or torch.var_mean), (x - mean) / torch.sqrt(var + eps), then weight and bias; update "
    "your own running buffers. F.batch_norm, torch.batch_norm and nn.BatchNorm1d/2d are what the check "
    "compares your layer with.")


# ---------------------------------------------------------------------------------------------------------
# Small helpers shared with the other batch-norm checks (backward.py, inference.py).
def vjp(y: torch.Tensor, inputs, grad_out: torch.Tensor, **kwargs):
    """Gradients of ``y`` for the upstream gradient ``grad_out``, as ``torch.autograd.grad(y, inputs,
    grad_out)`` gives them, but written as the gradient of the scalar ``(y * grad_out).sum()``: the values
    are identical (the backward of that product hands ``grad_out`` on unchanged), and it avoids the import
    of sympy that torch performs the first time a tensor upstream gradient is passed (a second, the
    visible check's whole budget, on the first check of a fresh kernel)."""
    return _grad((y * grad_out).sum(), inputs, **kwargs)


def near(a: torch.Tensor, b: torch.Tensor, tol: Tolerance) -> bool:
    """``a`` equals ``b`` up to ``tol`` relative to b's largest magnitude (not element by element).

    Used to recognise a mistake: a mistaken result can be huge in one channel (dividing by a variance of
    1e-4) while float32 rounding leaves absolute errors of that scale in small elements of the same tensor,
    so an element-wise test would not recognise the mistake it exactly reproduces.
    """
    if tuple(a.shape) != tuple(b.shape):
        return False
    a64, b64 = a.detach().to("cpu", torch.float64), b.detach().to("cpu", torch.float64)
    if b64.numel() == 0:
        return True
    err, _ = max_error(a64, b64)
    return err <= tol.atol + tol.rtol * float(b64.abs().max())


def pick(actual, expected, found, tol: Tolerance):
    """Decide whether a mistake model (``found``: a tensor, a list of candidate tensors or None) explains
    ``actual``. Candidates that make no difference to ``expected`` in this case are ignored; a candidate that
    ``actual`` reproduces (see ``near``) is returned as ``actual`` itself, so that ``compare`` names it."""
    candidates = [found] if _type(found) is _Tensor else list(found or [])
    for candidate in candidates:
        if candidate is None or tuple(candidate.shape) != tuple(actual.shape):
            continue
        if near(candidate, expected, tol):
            continue
        if near(actual, candidate, tol):
            return actual.detach()
    return None


def check_close(actual, expected, *, subject, case, what, kind="value", mistakes=None, family=None):
    """``compare``, where a mistake model may return several candidates; a model that matches no element-wise
    comparison may still be recognised by ``pick`` (relative to the largest magnitude), after ``family``."""
    lenient = None
    if mistakes:
        tol = tolerance(expected.dtype, kind)
        lenient = lambda a, candidate, e: pick(a, e, candidate, tol) is not None  # noqa: E731
    compare(actual, expected, subject=subject, case=case, what=what, kind=kind, mistakes=mistakes, family=family,
            lenient=lenient)


def channel_distribution(C: int, g: torch.Generator, smallest: float = 0.01):
    """Per-channel scales (log-uniform in [smallest, 3]) and means (up to 3 scales from zero), float64.

    One channel gets a scale near ``smallest`` (eps then matters: a misplaced eps moves outputs by
    percents) and another one near 3 (the n / (n - 1) between biased and unbiased variance is then far
    above float32 noise in running_var). Means stay within a few scales so that a correct float32
    E[x^2] - E[x]^2 is not failed for cancellation.
    """
    u = torch.rand(C, generator=g, dtype=torch.float64)
    scales = torch.exp(math.log(smallest) + u * (math.log(3.0) - math.log(smallest)))
    order = torch.randperm(C, generator=g)
    scales[int(order[0])] = smallest * (1 + float(torch.rand(1, generator=g, dtype=torch.float64)))
    if C > 1:
        scales[int(order[1])] = 2.0 + float(torch.rand(1, generator=g, dtype=torch.float64))
    shifts = scales * (torch.rand(C, generator=g, dtype=torch.float64) * 6 - 3)
    return scales, shifts


def lay_out(x: torch.Tensor, layout: str) -> torch.Tensor:
    """The same values in another memory layout (a leaf tensor, on x's device)."""
    if layout == "contiguous":
        return x.contiguous()
    if layout == "channels_last":
        return x.contiguous(memory_format=torch.channels_last)
    if layout == "transposed":  # the last two dimensions swapped in memory: not contiguous
        return x.transpose(-1, -2).contiguous().transpose(-1, -2).detach()
    if layout == "sliced":  # every other element of a twice-as-wide tensor
        big = torch.zeros(tuple(x.shape[:-1]) + (2 * x.shape[-1],), dtype=x.dtype, device=x.device)
        big[..., ::2] = x
        return big[..., ::2].detach()
    raise ValueError(layout)


class one_thread:
    """Run a check with one intra-op thread, restoring the learner's setting afterwards.

    The checks work on tensors of a few hundred elements, where waking a thread pool costs more than the
    arithmetic: on a loaded 2-core machine torch's CPU batch_norm took 24 ms per call with two threads and
    0.05 ms with one, which made the thorough check 20x slower. Results do not depend on the thread count.
    """

    def __enter__(self):
        self._saved = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self._saved)
        return False


def who(answer) -> str:
    """The answer as messages name it: "your BatchNorm2d"."""
    return f"your {getattr(answer, '__name__', 'answer')}"


class _no_guard:
    """A ``with`` that does nothing (where the same code runs the reference instead of the answer)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def describe_shape(shape) -> str:
    names = {2: "N C", 3: "N C L", 4: "N C H W"}[len(shape)].split()
    return " ".join(f"{n}={s}" for n, s in zip(names, shape))


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


# ---------------------------------------------------------------------------------------------------------
# Mistake models: a float64 batch norm that can be wrong in exactly one way.
@dataclass(frozen=True)
class Config:
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = True
    track: bool = True

    @classmethod
    def of(cls, kwargs: dict) -> Config:
        return cls(kwargs.get("eps", 1e-5), kwargs.get("momentum", 0.1), kwargs.get("affine", True),
                   kwargs.get("track_running_stats", True))


@dataclass(frozen=True)
class State:
    """What a layer carries between steps (float64, CPU; ``None`` where torch has ``None``)."""

    running_mean: torch.Tensor | None
    running_var: torch.Tensor | None
    num_batches_tracked: int
    weight: torch.Tensor | None
    bias: torch.Tensor | None


@dataclass(frozen=True)
class Flaw:
    """One way of being wrong; the defaults are torch's behaviour."""

    form: fam.Form | None = None  # the normalization computed as a near miss of the family (``_bn_family``)
    momentum: str = "torch"  # "keras"; with momentum=None: "none_as_default" (0.1), "none_off_by_one",
    #                          "none_before_count" (1 / num_batches_tracked before counting this batch);
    #                          with momentum=0: "zero_as_none" (cumulative), "zero_as_default" (0.1)
    biased_running: bool = False  # stores the biased variance in running_var
    running_std: bool = False  # stores the (unbiased) standard deviation in running_var
    update: str = "train"  # "never", "always" (also in eval)
    count: bool = True  # increments num_batches_tracked
    affine_first: bool = False
    eval_batch: bool = False  # eval mode normalizes with batch statistics
    tracks_anyway: bool = False  # keeps and uses running statistics although track_running_stats=False
    detach: str = ""  # "both", "mean", "var": batch statistics detached from the graph
    eps: float | None = None  # a hard-coded eps
    one_sample_eval: bool = False  # a training batch with N == 1 is treated as eval
    eval_no_affine: bool = False  # eval mode skips weight and bias
    train_running: str = ""  # "updated" / "previous": training normalizes with the running statistics (after or
    #                          before this batch's update) instead of the batch's


CORRECT = Flaw()


@functools.lru_cache(maxsize=None)
def _correct_form(ndim: int) -> fam.Form:
    """Batch norm's own computation, as a form of its family (statistics over every dim but 1)."""
    return fam.Form(fam.over([d for d in range(ndim) if d != 1], None), False, fam.CORRECT_DENOMINATOR, True, "yes")


@functools.lru_cache(maxsize=None)
def _with_running(form: fam.Form) -> fam.Form:
    """What of ``form`` applies with the running statistics: its slips in using statistics, not in computing
    batch ones."""
    return replace(form, grouping=None, unbiased=False, keepdim="yes", affine_in_view=False, swapped=False,
                   var_scale=None, var_grouping=None)

_DIM_NAMES = {2: "N C", 3: "N C L", 4: "N C H W"}
_FAMILY_KEYS = {"per_sample": "bn_wrong_axes_per_sample", "batch_only": "bn_wrong_axes_batch_only",
                "all": "bn_wrong_axes_all", "scrambled": "bn_channels_scrambled",
                "unbiased": "bn_unbiased_var_normalize", "eps_outside": "bn_eps_outside_sqrt",
                "missing_sqrt": "bn_missing_sqrt"}


@functools.lru_cache(maxsize=None)
def bn_family(ndim: int) -> tuple[fam.Family, tuple]:
    """Batch norm's near misses for ``ndim``-d input, and their forms (simplest first): statistics per sample, per
    position, of the whole tensor, or of rows that a reshape without moving the channels mixed up; and the
    variance, eps, square-root, centring and keepdim slips (``_families``). ``model_step`` computes each form."""
    names = _DIM_NAMES[ndim]
    groupings = [fam.over([d for d in range(ndim) if d != 1], None, names),
                 fam.over(range(1, ndim), "per_sample", names)]
    if ndim > 2:
        groupings += [fam.over(range(2, ndim), "per_sample", names), fam.over((0,), "batch_only", names)]
    groupings += [fam.over(range(ndim), "all", names),
                  fam.regrouped(lambda s: (s[1], -1), (1,), "scrambled",
                                "over the rows of x.reshape(C, -1) (the channels not moved to the front first)", 0)]
    if ndim > 2:
        groupings.append(fam.regrouped(lambda s: (-1, s[1]), (0,), "scrambled",
                                       "over the columns of x.reshape(-1, C) (the channels not moved last first)", 1))
    family = fam.Family(groupings, _FAMILY_KEYS, 1e-5, view_affine=True, misaligned_affine=True)
    return family, tuple(family.forms(ndim))

# Catalogue key -> the flaws that make it (most specific first: the first model that matches wins). How the
# batch statistics themselves are computed (dims, variance estimator, eps, square root, centring, reshapes) is
# not listed here: those mistakes are recognised by their effect, as near misses of ``_bn_family``.
FLAWS: dict[str, list[Flaw]] = {
    "bn_batch_of_one_uses_running_stats": [Flaw(one_sample_eval=True)],
    "bn_eps_ignored": [Flaw(eps=1e-5)],
    "bn_momentum_none_not_cumulative": [Flaw(momentum="none_as_default"), Flaw(momentum="none_off_by_one"),
                                        Flaw(momentum="none_before_count")],
    # before Keras: with momentum=0 both replace the running statistics by the first batch's
    "bn_momentum_zero_as_none": [Flaw(momentum="zero_as_none"), Flaw(momentum="zero_as_default")],
    "bn_keras_momentum": [Flaw(momentum="keras")],
    "bn_running_var_biased": [Flaw(biased_running=True)],
    "bn_num_batches_tracked_not_counted": [Flaw(count=False)],
    "bn_running_stats_never_updated": [Flaw(update="never"), Flaw(update="never", count=False)],
    "bn_running_stats_updated_in_eval": [Flaw(update="always")],
    "bn_eval_uses_batch_stats": [Flaw(eval_batch=True)],
    "bn_train_uses_running_stats": [Flaw(train_running="updated"), Flaw(train_running="previous")],
    "bn_eval_skips_affine": [Flaw(eval_no_affine=True)],
    "bn_track_running_stats_ignored": [Flaw(tracks_anyway=True)],
    "bn_running_var_is_std": [Flaw(running_std=True)],
    "bn_affine_before_normalize": [Flaw(affine_first=True)],
    "bn_batch_stats_detached": [Flaw(detach="both"), Flaw(detach="mean"), Flaw(detach="var")],
}


def model_step(x: torch.Tensor, st: State, cfg: Config, training: bool, fl: Flaw = CORRECT):
    """One forward of a batch norm layer with flaw ``fl``: ``(y, next_state)``, or ``(None, st)`` when the
    flaw has no meaning for this input. ``x`` is float64 on the CPU; differentiable w.r.t. x, weight, bias.
    """
    if fl.train_running and training and cfg.track:
        _, after = model_step(x, st, cfg, True)
        y, _ = model_step(x, after if fl.train_running == "updated" else st, cfg, False)
        return y, after
    C = x.shape[1]
    dims = (0,) + tuple(range(2, x.dim()))
    shape = (1, C) + (1,) * (x.dim() - 2)
    eps = cfg.eps if fl.eps is None else fl.eps
    tracked = cfg.track or fl.tracks_anyway
    rm, rv = st.running_mean, st.running_var
    if tracked and rm is None:  # a layer that tracks although told not to starts like torch's would
        rm, rv = torch.zeros(C, dtype=x.dtype), torch.ones(C, dtype=x.dtype)
    one_sample = fl.one_sample_eval and training and x.shape[0] == 1
    use_batch = (training and not one_sample) or not tracked or fl.eval_batch
    w = st.weight.view(shape) if st.weight is not None else None
    b = st.bias.view(shape) if st.bias is not None else None
    src = x * w + b if fl.affine_first and w is not None else x
    form = fl.form or _correct_form(x.dim())
    if use_batch:
        mean = var = None
        if fl.detach:  # the batch statistics as constants for autograd (the form's computation otherwise)
            mean = src.mean(dims, keepdim=True)
            var = ((src - mean) ** 2).mean(dims, keepdim=True)
            mean = mean.detach() if fl.detach in ("both", "mean") else mean
            var = var.detach() if fl.detach in ("both", "var") else var
            y = (src - mean) / (var + eps).sqrt()
        else:
            y = fam.normalize(form, src, eps, channel_affine=(st.weight, st.bias) if w is not None else None)
            if y is None:
                return None, st
    else:  # the running statistics: the form's slips in using them apply, not those in computing batch ones
        flat = form.keepdim != "yes"  # (C,) vectors broadcast against the last dim
        y = fam.normalize(_with_running(form), src, eps, stats=(rm, rv) if flat else (rm.view(shape), rv.view(shape)))
        if tuple(y.shape) != tuple(x.shape):
            return None, st
    if w is not None and not fl.affine_first and not (use_batch and form.affine_in_view) and not (
            fl.eval_no_affine and not training):
        if form.affine_misaligned:  # the (C,) weight and bias broadcast against the last dim
            try:
                y = y * st.weight + st.bias
            except RuntimeError:
                return None, st
        else:
            y = y * w + b

    nbt = st.num_batches_tracked
    update = tracked and fl.update != "never" and ((training and not one_sample) or fl.update == "always")
    if fl.update == "never" and tracked and training and fl.count:
        nbt += 1
    if update:
        with torch.no_grad():
            s = src.detach()
            n = s.numel() // C
            batch_mean = s.mean(dims)
            batch_var = ((s - batch_mean.view(shape)) ** 2).mean(dims)
            if not fl.biased_running:
                batch_var = batch_var * n / (n - 1)
            if fl.running_std:
                batch_var = batch_var.sqrt()
            nbt += 1 if fl.count else 0
            momentum = cfg.momentum
            if momentum == 0 and fl.momentum in ("zero_as_none", "zero_as_default"):
                momentum = None if fl.momentum == "zero_as_none" else 0.1
            if momentum is not None:
                f = momentum
            elif fl.momentum == "none_as_default":
                f = 0.1
            elif fl.momentum == "none_off_by_one":
                f = 1.0 / (nbt + 1)
            elif fl.momentum == "none_before_count":
                f = 1.0 / (nbt - 1) if nbt > 1 else 1.0
            else:
                f = 1.0 / max(nbt, 1)
            if fl.momentum == "keras":
                rm, rv = f * rm + (1 - f) * batch_mean, f * rv + (1 - f) * batch_var
            else:
                rm, rv = (1 - f) * rm + f * batch_mean, (1 - f) * rv + f * batch_var
    if not tracked:
        rm, rv = st.running_mean, st.running_var
    return y, State(rm, rv, nbt, st.weight, st.bias)


QUANTITIES = ("output", "running_mean", "running_var", "num_batches_tracked",
              "grad_input", "grad_weight", "grad_bias")


def replay(history, init: State, cfg: Config, fl: Flaw, what: str):
    """Run a flawed model through a scenario's steps; return ``what`` after the last one (or None)."""
    st = init
    for i, (x, training, grad_out) in enumerate(history):
        if i == len(history) - 1 and what.startswith("grad"):
            xg = x.clone().requires_grad_(True)
            params = [p.clone().requires_grad_(True) if p is not None else None for p in (st.weight, st.bias)]
            y, _ = model_step(xg, replace(st, weight=params[0], bias=params[1]), cfg, training, fl)
            if y is None:
                return None
            wrt = {"grad_input": xg, "grad_weight": params[0], "grad_bias": params[1]}[what]
            if wrt is None:
                return None
            (g,) = vjp(y, [wrt], grad_out, allow_unused=True)
            return g
        with torch.no_grad():
            y, st = model_step(x, st, cfg, training, fl)
        if y is None:
            return None
    if what == "output":
        return y
    if what == "num_batches_tracked":
        return torch.tensor(st.num_batches_tracked)
    return getattr(st, what)


def models_for(history, init, cfg, what, consistent=None) -> dict[str, Callable]:
    """Per catalogue key, what its flaws give for ``what``; ``consistent(flaw)`` (when given) leaves out the
    flaws that contradict what the answer got right."""
    def model(flaws):
        out = []
        for fl in flaws:
            found = replay(history, init, cfg, fl, what)
            if found is not None and (consistent is None or consistent(fl)):
                out.append(found)
        return out
    return {key: (lambda flaws=flaws: model(flaws)) for key, flaws in FLAWS.items()}


def near_miss(history, init, cfg, actual, expected, consistent=None) -> tuple[str, str] | None:
    """``(key, description)`` of the simplest near miss of ``bn_family`` whose replay of the scenario gives the
    answer's last output (``_families.search``), or None."""
    family, forms = bn_family(history[-1][0].dim())

    def compute(form):
        return replay(history, init, cfg, Flaw(form=form), "output")

    x, training, _ = history[-1]
    running = not training and cfg.track  # then only the denominator and the centring of a form apply
    a = actual.detach().to("cpu", torch.float64)
    tol = tolerance(expected.dtype)
    confirm = None if consistent is None else lambda form: consistent(Flaw(form=form))
    found = fam.search(a, expected, forms, compute, family, tol, running=running, confirm=confirm)
    if found is None and not running and init.weight is not None and bool((init.weight != 0).all()):
        # the eps or the variance count the answer used, read off its output (batch statistics)
        dims = (0,) + tuple(range(2, x.dim()))
        view = (1, -1) + (1,) * (x.dim() - 2)
        z = (a - init.bias.view(view)) / init.weight.view(view)
        mean = x.mean(dims, keepdim=True)
        var = ((x - mean) ** 2).mean(dims, keepdim=True).expand_as(x)
        candidates = [(1, family.key(f.deviations()), f.describe(), lambda f=f: compute(f),
                       None if confirm is None else lambda f=f: confirm(f))
                      for f in fam.fitted(z, x - mean, var, cfg.eps, fam.over(dims, None))
                      if family.key(f.deviations())]
        found = fam.match(a, expected, candidates, tol)
    return found


# ---------------------------------------------------------------------------------------------------------
# Scenarios.
@dataclass(frozen=True)
class Scenario:
    """One layer, one input distribution, several steps. ``modes``: "T" train, "E" eval, per step."""

    shape: tuple
    modes: str
    kwargs: tuple = ()  # constructor keyword arguments, as (name, value) pairs
    dtype: torch.dtype = torch.float32
    layout: str = "contiguous"
    load: bool = False  # start from a torch state_dict with random running statistics
    grads: bool = True

    def describe(self, device: torch.device) -> str:
        parts = [dtype_name(self.dtype), describe_shape(self.shape)]
        parts += [f"{k}={v}" for k, v in self.kwargs]
        if self.layout != "contiguous":
            parts.append(self.layout)
        if self.load:
            parts.append("loaded state_dict")
        if device.type != "cpu":
            parts.append(device.type)
        return ", ".join(parts)


def _s(shape, modes, dtype=torch.float32, layout="contiguous", load=False, **kwargs) -> Scenario:
    return Scenario(tuple(shape), modes, tuple(kwargs.items()), dtype, layout, load)


_F64 = torch.float64


def _visible(dim: int) -> list[Scenario]:
    if dim == 2:
        return [
            _s((4, 3, 5, 7), "TTTE"),
            _s((2, 3, 4, 6), "TTE", momentum=None),
            _s((3, 3, 4, 5), "TE", affine=False, track_running_stats=False),
            _s((2, 4, 3, 3), "ET", load=True),
            _s((3, 3, 2, 4), "TTE", momentum=0.0),
        ]
    return [
        _s((8, 4), "TTTE"),
        _s((4, 3, 6), "TTE", momentum=None),
        _s((6, 3), "TE", affine=False, track_running_stats=False),
        _s((5, 4, 3), "ET", load=True),
        _s((6, 3), "TTE", momentum=0.0),
    ]


def _thorough(dim: int, g: torch.Generator) -> list[Scenario]:
    if dim == 2:
        fixed = [
            _s((8, 4, 6, 5), "TTTETE"),
            _s((5, 3, 4, 7), "TTTE", _F64, momentum=0.3, eps=1e-3),
            _s((4, 3, 3, 5), "TTTTET", momentum=None),
            _s((4, 3, 5, 4), "TE", eps=1e-2, momentum=0.05),
            _s((3, 4, 4, 3), "TTE", affine=False),
            _s((4, 3, 2, 5), "TTE", track_running_stats=False),
            _s((2, 3, 5, 2), "TE", _F64, affine=False, track_running_stats=False),
            _s((1, 3, 6, 4), "TTE"),
            _s((6, 2, 1, 1), "TTE"),
            _s((4, 3, 5, 6), "TTE", layout="channels_last"),
            _s((3, 3, 4, 6), "TE", layout="transposed"),
            _s((3, 2, 3, 5), "TE", _F64, layout="sliced"),
            _s((3, 5, 2, 3), "ETTE", load=True, momentum=None),
            _s((4, 3, 3, 4), "TTTE", momentum=0.0),
            _s((3, 2, 4, 3), "ETE", _F64, load=True, momentum=0.0),
            _s((6, 16, 8, 8), "TE"),
        ]
    else:
        fixed = [
            _s((16, 5), "TTTETE"),
            _s((6, 3, 10), "TTTE", _F64, momentum=0.3, eps=1e-3),
            _s((3, 4), "TTTTET", momentum=None),
            _s((8, 3, 5), "TE", eps=1e-2, momentum=0.05),
            _s((5, 4, 3), "TTE", affine=False),
            _s((7, 3), "TTE", track_running_stats=False),
            _s((4, 3, 4), "TE", _F64, affine=False, track_running_stats=False),
            _s((1, 3, 7), "TTE"),
            _s((1, 4), "E", load=True),
            _s((8, 4), "TE", layout="transposed"),
            _s((4, 3, 6), "TE", layout="transposed"),
            _s((6, 3, 5), "TE", _F64, layout="sliced"),
            _s((6, 5), "ETTE", load=True, momentum=None),
            _s((7, 3, 4), "TTTE", momentum=0.0),
            _s((6, 4), "ETE", _F64, load=True, momentum=0.0),
            _s((32, 24), "TE"),
        ]
    return fixed + [_random_scenario(dim, g) for _ in range(3)]


def _random_scenario(dim: int, g: torch.Generator) -> Scenario:
    def choice(options):
        return options[int(torch.randint(len(options), (1,), generator=g))]

    def integer(lo, hi):
        return int(torch.randint(lo, hi + 1, (1,), generator=g))

    N, C = integer(3, 7), integer(1, 6)  # N = 2 on (N, C): the exact input gradient is ~0, all noise
    spatial = {1: choice([(), (integer(1, 8),)]), 2: (integer(1, 7), integer(1, 7))}[dim]
    layouts = ["contiguous", "transposed", "sliced"] + (["channels_last"] if dim == 2 else [])
    kwargs = dict(momentum=choice([0.1, 0.5, None, 0.01]), eps=choice([1e-5, 1e-3]),
                  affine=choice([True, False]), track_running_stats=choice([True, False]))
    modes = "T" + "".join(choice("TE") for _ in range(3))
    return _s((N, C) + spatial, modes, choice([torch.float32, _F64]), choice(layouts), **kwargs)


# ---------------------------------------------------------------------------------------------------------
# Structure: what the API promises besides numbers.
def _check_structure(layer, cfg: Config, C: int, subject: str, case: str) -> None:
    if not isinstance(layer, _Module):
        fail(subject, case, f"the layer should be a subclass of nn.Module, got {type(layer).__name__}.")
    params = dict(_named_parameters(layer, recurse=False))
    buffers = dict(_named_buffers(layer, recurse=False))
    expected_params = {"weight", "bias"} if cfg.affine else set()
    expected_buffers = {"running_mean", "running_var", "num_batches_tracked"} if cfg.track else set()

    for name in ("running_mean", "running_var"):
        if name in params:
            fail(subject, case, f"{name} is an nn.Parameter (the optimizer would train it).",
                 "bn_running_stats_as_parameters")
    strangers = sorted((set(params) | set(buffers)) - expected_params - expected_buffers)
    if cfg.affine:
        for name in ("weight", "bias"):
            if name in params:
                continue
            if _type(getattr(layer, name, None)) is _Tensor:
                fail(subject, case, f"{name} is a plain tensor, not an nn.Parameter.",
                     "bn_affine_not_parameters")
            fail(subject, case, f"the layer has no parameter named {name!r} (found parameters "
                 f"{sorted(params)}).", "bn_torch_names_not_used")
    else:
        for name in ("weight", "bias"):
            if name in params or getattr(layer, name, None) is not None:
                fail(subject, case, f"with affine=False, {name} should be None.", "bn_affine_flag_ignored")
    if cfg.track:
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            if name in buffers:
                continue
            if isinstance(getattr(layer, name, None), _Tensor):
                fail(subject, case, f"{name} is an attribute but not a registered buffer.",
                     "bn_buffer_not_registered")
            if strangers:
                fail(subject, case, f"the layer has no buffer named {name!r}; it registers {strangers} "
                     f"instead.", "bn_torch_names_not_used")
            fail(subject, case, f"the layer has no buffer named {name!r}.", "bn_buffer_not_registered")
    else:
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            if getattr(layer, name, None) is not None:
                fail(subject, case, f"with track_running_stats=False, {name} should be None.",
                     "bn_track_running_stats_ignored")
    if strangers:
        fail(subject, case, f"torch's layer has no parameter or buffer named {strangers}.",
             "bn_torch_names_not_used")
    keys = set(_state_dict(layer).keys())
    expected_keys = expected_params | expected_buffers
    if keys != expected_keys:
        fail(subject, case, f"state_dict() keys {sorted(keys)} differ from torch's {sorted(expected_keys)}.",
             "bn_torch_names_not_used")

    tensors = {name: getattr(layer, name) for name in sorted(expected_params | expected_buffers)}
    for name, t in tensors.items():
        as_plain_tensor(t, name, subject, case)
        want = () if name == "num_batches_tracked" else (C,)
        if tuple(t.shape) != want:
            fail(subject, case, f"{name} has shape {tuple(t.shape)}, expected {want}.")
        if name == "num_batches_tracked":
            if t.dtype != torch.long:
                fail(subject, case, f"num_batches_tracked has dtype {t.dtype}, expected torch.int64 (long).",
                     "bn_num_batches_tracked_dtype")
        elif t.dtype != torch.get_default_dtype():
            fail(subject, case, f"{name} has dtype {t.dtype}, expected the default dtype "
                 f"{torch.get_default_dtype()}.")
    if cfg.track:
        for name in ("running_mean", "running_var"):
            if tensors[name].requires_grad:
                fail(subject, case, f"{name} requires grad.", "bn_running_stats_not_detached")
    initial = {"weight": 1.0, "bias": 0.0, "running_mean": 0.0, "running_var": 1.0, "num_batches_tracked": 0}
    for name, t in tensors.items():
        want = torch.full(tuple(t.shape), initial[name], dtype=t.dtype)
        if not close(t, want, _EXACT):
            key = "bn_weight_bias_wrong_init" if name in ("weight", "bias") else "bn_running_stats_wrong_init"
            fail(subject, case, f"a new layer's {name} should be all {initial[name]}.", key)


# ---------------------------------------------------------------------------------------------------------
# Running a scenario.
def _assign(module, **tensors) -> bool:
    """Copy each tensor into the module's attribute of that name; False when one is missing or will not take it."""
    try:
        with torch.no_grad():
            for name, value in tensors.items():
                getattr(module, name).copy_(value)
    except Exception:  # noqa: BLE001 - the answer's module, whatever it holds
        return False
    return True


class _Run:
    """One scenario on one device: the learner's layer, torch's, and the history for the models."""

    def __init__(self, cls, dim, sc: Scenario, device, g, subject, thorough):
        self.subject, self.sc, self.device, self.thorough = subject, sc, device, thorough
        self.who = who(cls)
        self.cfg = Config.of(dict(sc.kwargs))
        C = sc.shape[1]
        args = ", ".join([str(C)] + [f"{k}={v}" for k, v in sc.kwargs])
        case = f"construction, {cls.__name__}({args})"
        self.layer = construct(cls, subject, case, C, **dict(sc.kwargs))
        check_not_torch_layer(self.layer, subject, case, "bn_delegates_to_torch", self.who)
        _check_structure(self.layer, self.cfg, C, subject, case)
        self.ref = _REFERENCE[dim](C, **dict(sc.kwargs))
        self.desc = sc.describe(device)
        case = f"setup, {self.desc}"
        with torch.no_grad():
            if self.cfg.affine:
                sign = torch.where(torch.rand(C, generator=g) < 0.2, -1.0, 1.0)
                self.ref.weight.copy_(sign * (0.5 + 1.5 * torch.rand(C, generator=g)))
                self.ref.bias.copy_(0.5 * torch.randn(C, generator=g))
            if sc.load and self.cfg.track:
                self.ref.running_mean.copy_(torch.randn(C, generator=g))
                self.ref.running_var.copy_(0.2 + 2 * torch.rand(C, generator=g))
                self.ref.num_batches_tracked.fill_(7)
        self.ref.to(device=device, dtype=sc.dtype)
        moved = call(self.layer.to, subject, case, "layer.to(device, dtype)", device=device, dtype=sc.dtype)
        if moved is not self.layer:
            fail(subject, case, "layer.to(...) should return the layer itself.")
        if sc.load:
            call(self.layer.load_state_dict, subject, case,
                 "load_state_dict(torch's state_dict, strict=True)", self.ref.state_dict(), strict=True)
        elif self.cfg.affine:
            with torch.no_grad():
                self.layer.weight.copy_(self.ref.weight)
                self.layer.bias.copy_(self.ref.bias)
        for name in ("running_mean", "running_var", "num_batches_tracked", "weight", "bias"):
            expected = getattr(self.ref, name)
            if expected is not None:
                compare(getattr(self.layer, name), expected, subject=subject, case=case, what=name)
        self.init = self._state(self.ref)
        # With momentum=None the first update replaces running_var = 1 by the batch variance; a correct
        # float32 update written as running += f * (batch - running) then carries an absolute error of
        # ~6e-8, i.e. 5e-4 relative for a variance of 1e-4. Such scenarios keep every variance above 1e-2.
        fresh_cumulative = self.cfg.momentum is None and not sc.load
        self.scales, self.shifts = channel_distribution(C, g, 0.1 if fresh_cumulative else 0.01)
        self.history = []

    @staticmethod
    def _state(ref) -> State:
        def f64(t):
            return None if t is None else t.detach().to("cpu", torch.float64).clone()
        nbt = ref.num_batches_tracked
        return State(f64(ref.running_mean), f64(ref.running_var), 0 if nbt is None else int(nbt),
                     f64(ref.weight), f64(ref.bias))

    def steps(self, g) -> int:
        for k, mode in enumerate(self.sc.modes, 1):
            training = mode == "T"
            case = f"{'train' if training else 'eval'}, {self.desc}, step {k}"
            view = (1, -1) + (1,) * (len(self.sc.shape) - 2)
            z = randn(self.sc.shape, g, torch.float64)
            x = (z * self.scales.view(view) + self.shifts.view(view)).to(self.sc.dtype)
            gy = randn(self.sc.shape, g, self.sc.dtype)
            # the models see exactly the (rounded) values the layers see
            self.history.append((x.to(torch.float64), training, gy.to(torch.float64)))
            x = lay_out(x.to(self.device), self.sc.layout)
            gy = gy.to(self.device)
            if self.sc.layout == "contiguous":
                self._step(self.layer, self.ref, x, gy, training, case, diagnose=True)
                continue
            saved = self._snapshot()
            try:
                self._step(self.layer, self.ref, x, gy, training, case, diagnose=True)
            except CheckFailure as e:
                if e.mistake != "bn_delegates_to_torch" and saved is not None and \
                        self._passes_contiguous(saved, x, gy, training, case):
                    fail(self.subject, case, "the layer gives a wrong result or raises on this memory "
                         "layout, but passes on the same values made contiguous.", "bn_assumes_contiguous")
                raise
        return len(self.sc.modes)

    def _snapshot(self):
        try:
            return _deepcopy(self.layer), _deepcopy(self.ref)
        except Exception:  # noqa: BLE001 - an answer that cannot be copied is simply not diagnosed this way
            return None

    def _passes_contiguous(self, saved, x, gy, training, case) -> bool:
        layer, ref = saved
        try:
            self._step(layer, ref, x.contiguous(), gy, training, case, diagnose=False)
        except CheckFailure:
            return False
        return True

    def _probe_broadcast(self, layer, case, training=True):
        """After a broadcasting error: a fresh layer of the answer's class, in the same mode, on an input whose last
        dims have C values (where (C,) statistics broadcast), against the family's near misses. In eval mode its
        running statistics are random, as torch's layer holds them."""
        C = self.sc.shape[1]
        shape = (3, C) + (C,) * (len(self.sc.shape) - 2)
        try:
            fresh = _type(layer)(C, **dict(self.sc.kwargs)).to(dtype=torch.float64)
            fresh.train(training)
        except Exception:  # noqa: BLE001 - no probe for a class that cannot be built again
            return None
        g = generator(1)
        x = randn(shape, g, torch.float64, scale=1.5, shift=0.5)
        weight = bias = None
        if self.cfg.affine:  # not ones and zeros, which hide an affine step broadcast the wrong way
            weight, bias = randn((C,), g, torch.float64, scale=0.5, shift=1.0), randn((C,), g, torch.float64)
            if not _assign(fresh, weight=weight, bias=bias):  # a layer without these parameters gets no probe
                return None
        rm, rv = torch.zeros(C, dtype=torch.float64), torch.ones(C, dtype=torch.float64)
        if not training:
            if not self.cfg.track:
                return None
            rm, rv = randn((C,), g, torch.float64), 0.5 + torch.rand(C, generator=g, dtype=torch.float64)
            if not _assign(fresh, running_mean=rm, running_var=rv):  # nor one without these buffers
                return None
        init = State(rm, rv, 0, weight, bias)
        with forbid_delegation(self.subject, case, "bn_delegates_to_torch", self.who):
            try:
                with torch.no_grad():
                    y = fresh(x)
            except CheckFailure:
                raise
            except Exception:  # noqa: BLE001 - the probe does not run either: nothing to explain
                return None
        if _type(y) is not _Tensor:
            return None
        history = [(x, training, torch.zeros_like(x))]
        expected = replay(history, init, self.cfg, CORRECT, "output")
        return near_miss(history, init, self.cfg, y, expected)

    def _step(self, layer, ref, x, gy, training, case, diagnose):
        subject, cfg = self.subject, self.cfg
        ref.train(training)
        call(layer.train, subject, case, "layer.train(mode)", training)
        before = None
        if not training and cfg.track:
            before = {n: as_plain_tensor(getattr(layer, n, None), n, subject, case).detach().clone()
                      for n in ("running_mean", "running_var", "num_batches_tracked")}
        xa = x.detach().requires_grad_(self.sc.grads)
        xr = x.detach().clone().requires_grad_(self.sc.grads)
        kept = x.detach().clone()
        try:
            with forbid_delegation(subject, case, "bn_delegates_to_torch", self.who):
                ya = call(layer, subject, case, "forward", xa)
        except CheckFailure as e:
            if e.mistake == "bn_delegates_to_torch":
                raise
            message = str(e)
            if cfg.momentum is None and "NoneType" in message and "has no attribute" not in message \
                    and "not subscriptable" not in message:  # arithmetic with momentum=None
                fail(subject, case, message.split(": ", 1)[-1], "bn_momentum_none_not_cumulative")
            if "leaf Variable that requires grad is being used in an in-place operation" in message:
                fail(subject, case, message.split(": ", 1)[-1], "bn_modifies_input")
            if "view size is not compatible with input tensor's size and stride" in message:
                fail(subject, case, message.split(": ", 1)[-1], "bn_assumes_contiguous")
            if diagnose and "must match the size of tensor" in message:
                found = self._probe_broadcast(layer, case, training)
                if found is not None:
                    fail(subject, case, f"{message.split(': ', 1)[-1]}. On an input whose sizes let it broadcast, "
                         f"your result matches {found[1]}.", found[0])
            raise
        if not close(xa.detach(), kept, _EXACT):
            fail(subject, case, "forward changed the values of its input x.", "bn_modifies_input")
        yr = ref(xr)

        if cfg.track:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                t = getattr(layer, name, None)
                if isinstance(t, _Tensor) and (t.requires_grad or t.grad_fn is not None):
                    fail(subject, case, f"after forward, {name} is part of the autograd graph.",
                         "bn_running_stats_not_detached")
        if before is not None:
            for name, old in before.items():
                new = as_plain_tensor(getattr(layer, name), name, subject, case)
                if not close(new, old, _EXACT):
                    fail(subject, case, f"{name} changed during a forward in eval mode.",
                         "bn_running_stats_updated_in_eval")

        def consistent(fl: Flaw) -> bool:
            """A flaw is only named where it predicts what the answer got right in this step, too (a model of
            a mistake that would also spoil a quantity the answer has right is not the answer's mistake)."""
            observed = [("output", ya, yr)] + ([(n, getattr(layer, n, None), getattr(ref, n)) for n in
                                                ("running_mean", "running_var", "num_batches_tracked")]
                                               if cfg.track else [])
            for name, a, e in observed:
                if _type(a) not in (_Tensor, _Parameter) or not close(a, e, tolerance(e.dtype)):
                    continue
                predicted = replay(self.history, self.init, cfg, fl, name)
                if predicted is not None and not close(predicted.to(e.dtype), e.cpu(), tolerance(e.dtype)):
                    return False
            return True

        def models(what):
            return models_for(self.history, self.init, cfg, what, consistent) if diagnose else None

        def family(actual):
            if not diagnose or _type(actual) is not _Tensor:
                return None
            return lambda: near_miss(self.history, self.init, cfg, actual, yr, consistent)

        if _type(ya) is _Tensor and tuple(ya.shape) != tuple(yr.shape) and \
                tuple(ya.shape) == tuple(s for s in yr.shape if s != 1):
            fail(subject, case, f"output has shape {tuple(ya.shape)}, expected {tuple(yr.shape)}.",
                 "bn_squeeze_drops_dims")
        if self.thorough and diagnose:
            self._cross_check(yr, "output", case)
        check_close(ya, yr, subject=subject, case=case, what="output", mistakes=models("output"),
                    family=family(ya))
        if cfg.track:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                if self.thorough and diagnose:
                    self._cross_check(getattr(ref, name), name, case)
                check_close(getattr(layer, name), getattr(ref, name), subject=subject, case=case, what=name,
                            mistakes=models(name))
        if self.sc.grads:
            self._grads(layer, ref, xa, xr, ya, yr, gy, case, models)

    def _grads(self, layer, ref, xa, xr, ya, yr, gy, case, models):
        subject = self.subject
        if not ya.requires_grad:
            fail(subject, case, "the output does not require grad: was it computed under torch.no_grad(), "
                 "from detached tensors or through numpy?")
        names = ["input"] + (["weight", "bias"] if self.cfg.affine else [])
        ours = [xa] + ([layer.weight, layer.bias] if self.cfg.affine else [])
        theirs = [xr] + ([ref.weight, ref.bias] if self.cfg.affine else [])
        with forbid_delegation(subject, case, "bn_delegates_to_torch", self.who):
            got = call(vjp, subject, case, "backward", ya, ours, gy, allow_unused=True)
        want = vjp(yr, theirs, gy)
        for name, a, e in zip(names, got, want):
            if a is None:
                fail(subject, case, f"no gradient reaches the {name}: is it used through autograd?")
            check_close(a, e, subject=subject, case=case, what=f"gradient w.r.t. the {name}", kind="grad",
                        mistakes=models(f"grad_{name}"))

    def _cross_check(self, value, what, case):
        """Thorough mode: the reference must agree with the independent float64 model."""
        independent = replay(self.history, self.init, self.cfg, CORRECT, what)
        tol = Tolerance(rtol=1e-4, atol=1e-5) if value.dtype != torch.float64 else Tolerance(1e-9, 1e-10)
        if not close(value, independent.to(value.dtype), tol):
            fail(self.subject, case, f"torch's reference ({what}) disagrees with an independent computation: "
                 "torch seems to have been modified in this kernel. Restart the kernel and run all cells.")


# ---------------------------------------------------------------------------------------------------------
# The layer inside a small model, trained for a few steps (thorough only).
def _small_model(dim: int, BN) -> tuple[list, tuple, str]:
    if dim == 2:
        layers = [nn.Conv2d(3, 6, 3, padding=1, bias=False), BN(6), nn.ReLU(),
                  nn.Conv2d(6, 8, 3, stride=2, bias=False), BN(8), nn.ReLU(),
                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)]
        return layers, (6, 3, 9, 7), "nn.Sequential(conv, bn, relu, conv, bn, relu, pool, linear)"
    layers = [nn.Linear(6, 12), BN(12), nn.ReLU(), nn.Linear(12, 7), BN(7, momentum=None), nn.ReLU(),
              nn.Linear(7, 5)]
    return layers, (10, 6), "nn.Sequential(linear, bn, relu, linear, bn(momentum=None), relu, linear)"


def _model_check(cls, dim: int, g: torch.Generator, subject: str) -> int:
    """Replace torch's batch norms in a small network by the learner's and train both the same way.

    Float64, so that three SGD steps cannot amplify harmless rounding differences into failures.
    """
    BN = _REFERENCE[dim]
    with torch.random.fork_rng(devices=[]):  # Conv2d/Linear draw their init from the learner's RNG
        layers, shape, where = _small_model(dim, BN)
    for m in layers:  # then our own initialization, from the check's generator
        for p in m.parameters():
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 / math.sqrt(max(p[0].numel(), 1))))
    reference = nn.Sequential(*layers).double()
    theirs = []
    for m in layers:
        if isinstance(m, BN):
            kwargs = {} if m.momentum == 0.1 else {"momentum": m.momentum}
            case = f"{where}, construction"
            mine = construct(cls, subject, case, m.num_features, **kwargs)
            check_not_torch_layer(mine, subject, case, "bn_delegates_to_torch", who(cls))
            call(mine.to, subject, case, "layer.to(torch.float64)", torch.float64)
            call(mine.load_state_dict, subject, case, "load_state_dict(strict=True)",
                 m.double().state_dict(), strict=True)
            theirs.append(mine)
        else:
            theirs.append(_deepcopy(m).double())
    learner = nn.Sequential(*theirs)
    target = torch.randint(5, (shape[0],), generator=g)
    for step in range(1, 4):
        case = f"train, float64, {where}, SGD step {step}"
        x = randn(shape, g, torch.float64, scale=2.0, shift=0.5)
        outputs = []
        for net in (reference, learner):
            call(net.train, subject, case, "model.train()")
            guard = forbid_delegation(subject, case, "bn_delegates_to_torch", who(cls)) if net is learner \
                else _no_guard()
            with guard:
                out = call(net, subject, case, "the model's forward", x)
            loss = nn.functional.cross_entropy(out, target)
            params = list(net.parameters())
            with guard:
                grads = call(_grad, subject, case, "the model's backward", loss, params)
            with torch.no_grad():  # plain SGD by hand: importing torch.optim costs a second (dynamo)
                for p, dp in zip(params, grads):
                    p -= 0.2 * dp
            outputs.append(out)
        compare(outputs[1], outputs[0], subject=subject, case=case, what="model output")
    case = f"eval, float64, {where}, after 3 SGD steps"
    for net in (reference, learner):
        net.eval()
    x = randn(shape, g, torch.float64)
    with forbid_delegation(subject, case, "bn_delegates_to_torch", who(cls)):
        out = call(learner, subject, case, "the model's forward", x)
    compare(out, reference(x), subject=subject, case=case, what="model output")
    for i, (m, mine) in enumerate(zip(layers, theirs)):
        if isinstance(m, BN):
            for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                compare(getattr(mine, name), getattr(m, name), subject=subject, case=case,
                        what=f"model[{i}].{name}")
    return 4


# ---------------------------------------------------------------------------------------------------------
def _check(cls, dim: int, thorough: bool, seed: int | None) -> None:
    subject = f"{getattr(cls, '__name__', 'answer')} (vs torch.nn.BatchNorm{dim}d)"
    g = generator(0 if seed is None and not thorough else seed)
    if not isinstance(cls, type) or not issubclass(cls, _Module):
        fail(subject, "construction", f"expected a subclass of nn.Module, got {cls!r}.")
    check_not_torch_layer(cls, subject, "definition", "bn_delegates_to_torch", who(cls))
    n = 0
    if thorough:
        targets = devices()
    else:  # a visible test only pays for CUDA when the notebook already uses it
        targets = [d for d in devices() if d.type == "cpu" or torch.cuda.is_initialized()]
    for device in targets:
        scenarios = _thorough(dim, g) if thorough else _visible(dim)
        if device.type != "cpu":
            scenarios = scenarios[:4] + [sc for sc in scenarios if sc.layout != "contiguous"]
        with no_tf32():
            for sc in scenarios:
                n += _Run(cls, dim, sc, device, g, subject, thorough).steps(g)
    if thorough:
        n += _model_check(cls, dim, g, subject)
    passed(subject, n, " (train and eval steps: outputs, running statistics and gradients)")


def check_batchnorm1d(BatchNorm1d, *, thorough: bool = False, seed: int | None = None) -> None:
    """Check a ``BatchNorm1d`` class against ``torch.nn.BatchNorm1d`` on (N, C) and (N, C, L) inputs.

    Raises ``AssertionError`` (``CheckFailure``) naming the case, the largest error and, when recognised,
    the mistake; prints a one-line summary on success. What each level covers: see the module docstring.
    """
    with one_thread():
        _check(BatchNorm1d, 1, thorough, seed)


def check_batchnorm2d(BatchNorm2d, *, thorough: bool = False, seed: int | None = None) -> None:
    """Check a ``BatchNorm2d`` class against ``torch.nn.BatchNorm2d`` on (N, C, H, W) inputs.

    Raises ``AssertionError`` (``CheckFailure``) naming the case, the largest error and, when recognised,
    the mistake; prints a one-line summary on success. What each level covers: see the module docstring.
    """
    with one_thread():
        _check(BatchNorm2d, 2, thorough, seed)
