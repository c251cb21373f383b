"""Check for ``RunningBatchNorm``: fastai course-v3 ``07_batchnorm`` semantics, as the reference documents.

The answer and ``autograder.references.RunningBatchNorm`` run side by side through a schedule of training
steps (batch sizes 2, 3, 8 and 32, so the batch-size-adjusted momentum matters), evaluation passes (batch
sizes 1 to 5) and a refused batch of 1. After every pass the check compares the output, the gradients for a
random upstream gradient (input, ``mults``, ``adds``) and every buffer (``sums``, ``sqrs``, ``count``,
``dbias``, ``batch``, ``step``). One channel has a tiny variance (std 0.05) so that the 0.01 clamp on the
variance during the first 20 samples changes the output. The hidden check adds random sizes, momenta and
memory layouts, and a run past step 100, where debiasing stops.

Diagnoses replay the whole schedule as a mistaken layer would (``_simulate``, float64, one flaw at a time),
so a mistake is named at the first pass where its output, gradient or buffer differs -- for several mistakes
(momentum not adjusted, dbias not maintained, count not interpolated) that is a buffer, since the outputs
agree exactly until batch sizes change. Mistakes about the autograd graph and the refused batch of 1 are
diagnosed directly.

Parameter and buffer names and shapes must be fastai's (so states load both ways); extra buffers (e.g. the
``factor``/``offset`` of fastai's later rewrite) are allowed and ignored. ``batch`` and ``step`` may be
stored as integers: buffers are compared by value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn

from ..references.running_batchnorm import RunningBatchNorm as _Reference
from . import _families as fam
from ._core import (
    CheckFailure, Tolerance, check_not_torch_layer, close, compare, construct, delegation_mistake, devices, fail,
    forbid_delegation, generator, max_error, mistake, no_tf32, passed, randn,
)

SUBJECT = "RunningBatchNorm"
_grad = torch.autograd.grad
_randint = torch.randint
_no_grad = torch.no_grad
_Module = nn.Module
_EXACT = Tolerance(rtol=0.0, atol=0.0)
_BUFFERS = ("sums", "sqrs", "count", "dbias", "batch", "step")
_DIMS = (0, 2, 3)

mistake("rbn_mom1_fixed", SUBJECT, "the running sums move by mom, not by the batch-size-adjusted mom1",
        "use mom1 = 1 - (1 - mom) / sqrt(bs - 1) as the lerp weight of sums, sqrs and count")
mistake("rbn_mom1_formula", SUBJECT, "mom1 is not 1 - (1 - mom) / sqrt(bs - 1)",
        "mom1 = 1 - (1 - mom) / math.sqrt(bs - 1): the square root of bs - 1, and 1 minus the quotient")
mistake("rbn_lerp_reversed", SUBJECT, "the running sums move by 1 - mom1 towards the batch (the lerp weight reversed)",
        "running.lerp_(new, mom1) = running + mom1 * (new - running): mom1 is the weight of the NEW batch")
mistake("rbn_count_formula", SUBJECT, "count is not handled like sums and sqrs (the values per channel, lerped "
        "with mom1 and divided by dbias with them)",
        "c = x.numel() / nc (= N * H * W, the sums are per channel), lerped with mom1 like sums and sqrs, and "
        "divided by dbias whenever they are")
mistake("rbn_var_formula", SUBJECT, "the variance is not sqrs / count - means ** 2",
        "vars = sqrs / count - means * means: E[x^2] minus the SQUARE of E[x]")
mistake("rbn_eps_outside", SUBJECT, "eps is added to the standard deviation, not to the variance",
        "divide by (vars + eps).sqrt(), not by vars.sqrt() + eps")
mistake("rbn_dbias", SUBJECT, "the debiasing factor dbias is not updated on every training step",
        "set dbias = dbias * (1 - mom1) + mom1 at every step (only the division by it stops at step 100)")
mistake("rbn_count_not_lerped", SUBJECT, "count is set to this batch's count instead of interpolated",
        "lerp count towards x.numel() / nc with mom1, like sums and sqrs, so it matches what the sums hold")
mistake("rbn_no_clamp", SUBJECT, "the variance is not clamped while fewer than 20 samples have been seen",
        "while batch < 20, clamp the variance to at least 0.01 (vars.clamp_min(0.01))")
mistake("rbn_clamp_window", SUBJECT, "the variance clamp is applied outside the first 20 samples",
        "clamp only while self.batch (the number of samples seen, not steps) is below 20")
mistake("rbn_batch_var", SUBJECT, "the variance comes from this batch (or averages batch variances)",
        "use vars = sqrs / count - means**2 from the running sums: E[x^2] - E[x]^2 of all samples seen")
mistake("rbn_unbiased", SUBJECT, "the running variance gets a Bessel correction count / (count - 1)",
        "keep vars = sqrs / count - means**2 as it is, without the n / (n - 1) factor")
mistake("rbn_eval_batch_stats", SUBJECT, "evaluation normalizes with the batch's own mean and variance",
        "in eval mode use the running sums exactly as in training, just without updating them")
mistake("rbn_eval_updates", SUBJECT, "the running statistics are also updated in eval mode",
        "only call the update when self.training is True; evaluation must not change any buffer")
mistake("rbn_not_detached", SUBJECT, "the running sums keep the autograd graph from one step to the next",
        "detach the previous sums and sqrs before updating them (self.sums.detach_() or lerp on .detach())")
mistake("rbn_stats_no_grad", SUBJECT, "no gradient flows through this batch's share of the statistics",
        "update sums and sqrs outside torch.no_grad(): this batch's s and ss enter them with weight mom1")
mistake("rbn_bs1_no_error", SUBJECT, "a training batch of one sample is not refused with ValueError",
        "if bs < 2 in training, raise ValueError before touching any buffer (mom1 divides by sqrt(bs - 1))")
delegation_mistake("rbn_delegates_to_torch", SUBJECT,
                   "write the running sums, the debiasing and the normalization yourself with tensor operations: "
                   "subclass nn.Module, not autograder.references.RunningBatchNorm (the reference the check "
                   "compares with) nor a torch norm layer, and call neither them nor torch's normalization "
                   "functions (F.batch_norm, ...)")
_KEY = "rbn_delegates_to_torch"


def _who(module) -> str:
    cls = module if isinstance(module, type) else type(module)
    return f"your {getattr(cls, '__name__', 'answer')}"


def _guard(module, case):
    """The window in which the learner's layer runs: no torch normalization, no reference (Python calls too)."""
    return forbid_delegation(SUBJECT, case, _KEY, _who(module), python_calls=True)


# ---------------------------------------------------------------------------------------------------------
# Mistake models: the whole history replayed with one flaw.
@dataclass(frozen=True)
class _Flaw:
    mom1: str = "adjusted"        # "fixed": mom1 = mom; "no_sqrt": 1 - (1 - mom) / (bs - 1)
    lerp: str = "mom1"            # "reversed": the sums, sqrs and count lerp by 1 - mom1
    denominator: str = fam.CORRECT_DENOMINATOR  # one of _families.DENOMINATORS
    centered: bool = True
    dbias: str = "every_step"     # "never": never updated nor divided by; "while_debiasing": frozen at 100
    count: str = "lerp"           # "raw_debiased" / "raw": count = this batch's, divided by dbias or not;
    #                               "numel": c = x.numel() (every value, not per channel); "not_debiased":
    #                               count not divided by dbias
    clamp: str = "first_samples"  # "none", "always", "first_steps"
    var: str = "running"          # "batch": this batch's variance; "averaged": lerp of batch variances;
    #                               "unbiased": times count / (count - 1); "mean_not_squared": sqrs / c - means
    eval: str = "running"         # "batch_stats", "batch_stats_clamped", "updates"
    grad: str = "through_batch"   # "none": statistics computed under no_grad


_OK = _Flaw()
_MODELS: dict[str, list[_Flaw]] = {
    "rbn_stats_no_grad": [replace(_OK, grad="none")],
    "rbn_eval_updates": [replace(_OK, eval="updates")],
    "rbn_eval_batch_stats": [replace(_OK, eval="batch_stats"), replace(_OK, eval="batch_stats_clamped")],
    "rbn_mom1_fixed": [replace(_OK, mom1="fixed")],
    "rbn_dbias": [replace(_OK, dbias="never"), replace(_OK, dbias="while_debiasing")],
    "rbn_count_not_lerped": [replace(_OK, count="raw_debiased"), replace(_OK, count="raw")],
    "rbn_no_clamp": [replace(_OK, clamp="none")],
    "rbn_clamp_window": [replace(_OK, clamp="always"), replace(_OK, clamp="first_steps")],
    "rbn_unbiased": [replace(_OK, var="unbiased")],
    "rbn_batch_var": [replace(_OK, var="batch"), replace(_OK, var="averaged")],
    "rbn_mom1_formula": [replace(_OK, mom1="no_sqrt")],
    "rbn_lerp_reversed": [replace(_OK, lerp="reversed")],
    "rbn_count_formula": [replace(_OK, count="numel"), replace(_OK, count="not_debiased")],
    "rbn_var_formula": [replace(_OK, var="mean_not_squared")],
    "norm_not_centered": [replace(_OK, centered=False)],
}
# The denominator slips of the normalization family (``_families``), named as they are for every norm layer.
for _denominator, _tags in fam.DENOMINATOR_TAGS.items():
    if _tags:
        _key = "rbn_eps_outside" if _tags[0] == "eps_outside" else fam.SHARED[_tags[0]]
        _MODELS.setdefault(_key, []).append(replace(_OK, denominator=_denominator))


@dataclass
class _Entry:
    training: bool
    x: torch.Tensor           # float64, CPU
    g: torch.Tensor           # float64, CPU


def _simulate(entries: list[_Entry], upto: int, nf, mom, eps, mults, adds, flaw: _Flaw) -> dict:
    """Outputs, gradients and buffers after ``entries[upto]`` for a layer with ``flaw`` (float64)."""
    f64 = torch.float64
    sums = torch.zeros(1, nf, 1, 1, dtype=f64)
    sqrs = torch.zeros(1, nf, 1, 1, dtype=f64)
    vavg = torch.zeros(1, nf, 1, 1, dtype=f64)
    count = torch.zeros((), dtype=f64)
    dbias, batch, step = 0.0, 0, 0
    result = {}
    for i in range(upto + 1):
        entry, last = entries[i], i == upto
        x = entry.x.clone().requires_grad_(last)
        m = mults.detach().double().cpu().requires_grad_(last)
        a = adds.detach().double().cpu().requires_grad_(last)
        if entry.training or flaw.eval == "updates":
            bs, nc = x.shape[0], x.shape[1]
            mom1 = {"fixed": mom, "no_sqrt": 1 - (1 - mom) / (bs - 1)}.get(
                flaw.mom1, 1 - (1 - mom) / math.sqrt(bs - 1))
            w = 1 - mom1 if flaw.lerp == "reversed" else mom1
            s, ss = x.sum(_DIMS, keepdim=True), (x * x).sum(_DIMS, keepdim=True)
            c = torch.tensor(x.numel() / (1 if flaw.count == "numel" else nc), dtype=f64)
            S, Q = sums + w * (s - sums), sqrs + w * (ss - sqrs)
            C = c if flaw.count in ("raw", "raw_debiased") else count + w * (c - count)
            V = vavg + mom1 * (x.var(_DIMS, keepdim=True, unbiased=False) - vavg)
            batch, step = batch + bs, step + 1
            if flaw.dbias == "every_step" or (flaw.dbias == "while_debiasing" and step < 100):
                dbias = dbias * (1 - mom1) + mom1
            sums, sqrs, count, vavg = S.detach(), Q.detach(), C.detach(), V.detach()
            if flaw.grad == "none":
                S, Q, C, V = sums, sqrs, count, vavg
        else:
            S, Q, C, V = sums, sqrs, count, vavg
        if step < 100 and flaw.dbias != "never":
            S, Q, V = S / dbias, Q / dbias, V / dbias
            if flaw.count not in ("raw", "not_debiased"):
                C = C / dbias
        means = S / C
        varns = Q / C - means * means
        if flaw.var == "unbiased":
            varns = varns * C / (C - 1)
        elif flaw.var == "mean_not_squared":
            varns = Q / C - means
        elif flaw.var == "batch":
            varns = x.var(_DIMS, keepdim=True, unbiased=False)
        elif flaw.var == "averaged":
            varns = V
        if not entry.training and flaw.eval.startswith("batch_stats"):
            means = x.mean(_DIMS, keepdim=True)
            varns = x.var(_DIMS, keepdim=True, unbiased=False)
        clamp = {"first_samples": batch < 20, "none": False, "always": True,
                 "first_steps": step < 20}[flaw.clamp]
        if flaw.eval == "batch_stats" and not entry.training:
            clamp = False
        if clamp:
            varns = varns.clamp_min(0.01)
        out = ((x - means) if flaw.centered else x) / fam.DENOMINATORS[flaw.denominator](varns, eps) * m + a
        if last:
            gx, gm, ga = _grad([out], [x, m, a], [entry.g], allow_unused=True)
            scalars = {"dbias": dbias, "batch": float(batch), "step": float(step)}
            result = {"out": out.detach(), "x": gx, "mults": gm, "adds": ga,
                      "sums": sums, "sqrs": sqrs, "count": count,
                      **{name: torch.tensor(value, dtype=f64) for name, value in scalars.items()}}
    return result


class _Diagnoser:
    """Mistake models for one case, replayed lazily (only after a mismatch) and cached."""

    def __init__(self, nf, mom, eps, mults, adds):
        self.entries: list[_Entry] = []
        self.args = (nf, mom, eps, mults.detach().double().cpu(), adds.detach().double().cpu())
        self.cache: dict = {}

    def run(self, flaw, upto):
        if (flaw, upto) not in self.cache:
            self.cache[(flaw, upto)] = _simulate(self.entries, upto, *self.args, flaw)
        return self.cache[(flaw, upto)]

    def mistakes(self, which: str, actual):
        upto = len(self.entries) - 1

        def make(flaws):
            def model():
                candidates = []
                for flaw in flaws:
                    try:
                        candidates.append(self.run(flaw, upto)[which])
                    except (ZeroDivisionError, ValueError, RuntimeError):  # flaw impossible here
                        continue
                return _closest(actual, candidates)
            return model
        return {key: make(flaws) for key, flaws in _MODELS.items()}


def _closest(actual, candidates):
    best, best_err = None, math.inf
    for cand in candidates:
        if cand is None or not isinstance(actual, torch.Tensor) or tuple(cand.shape) != tuple(actual.shape):
            continue
        err, _ = max_error(actual, cand)
        if err < best_err:
            best, best_err = cand, err
    return best


# ---------------------------------------------------------------------------------------------------------
# The check.
def _layout(x: torch.Tensor, layout: str) -> torch.Tensor:
    if layout == "channels_last":
        return x.contiguous(memory_format=torch.channels_last)
    if layout == "transposed":
        return x.transpose(-1, -2).contiguous().transpose(-1, -2)
    return x


def _build(cls, case, nf, kwargs):
    check_not_torch_layer(cls, SUBJECT, case, _KEY, _who(cls))
    module = construct(cls, SUBJECT, case, nf, **kwargs)
    if not isinstance(module, _Module):
        fail(SUBJECT, case, f"{SUBJECT} should subclass nn.Module, got {type(module).__name__}.")
    check_not_torch_layer(module, SUBJECT, case, _KEY, _who(cls))
    return module


def _check_structure(module, nf, case):
    params = {n: tuple(p.shape) for n, p in module.named_parameters()}
    want = {"mults": (nf, 1, 1), "adds": (nf, 1, 1)}
    if set(params) != set(want):
        fail(SUBJECT, case, f"has parameters {sorted(params)}; expected exactly fastai's 'mults' and 'adds'.")
    for name, shape in want.items():
        if params[name] != shape:
            fail(SUBJECT, case, f"parameter '{name}' has shape {params[name]}, expected {shape}.")
    buffers = dict(module.named_buffers())
    for name in _BUFFERS:
        if name not in buffers:
            key = "rbn_dbias" if name == "dbias" else None
            fail(SUBJECT, case, f"has no buffer '{name}'; expected buffers {', '.join(_BUFFERS)}.", key)
        shape = (1, nf, 1, 1) if name in ("sums", "sqrs") else ()
        if tuple(buffers[name].shape) != shape:
            fail(SUBJECT, case, f"buffer '{name}' has shape {tuple(buffers[name].shape)}, expected {shape}.")
        if not close(buffers[name].detach().double(), torch.zeros(shape, dtype=torch.float64), _EXACT):
            fail(SUBJECT, case, f"buffer '{name}' should start at zero.")
    ps = dict(module.named_parameters())
    if not close(ps["mults"].detach(), torch.ones(nf, 1, 1), _EXACT):
        fail(SUBJECT, case, "'mults' should start as all ones.")
    if not close(ps["adds"].detach(), torch.zeros(nf, 1, 1), _EXACT):
        fail(SUBJECT, case, "'adds' should start as all zeros.")


def _buffers(module) -> dict:
    return {n: b for n, b in module.named_buffers()}


def _as_expected(actual, expected):
    """Buffers may be stored in another dtype (e.g. an integer step); compare their values."""
    if isinstance(actual, torch.Tensor) and actual.dtype != expected.dtype:
        return actual.detach().to(expected.dtype)
    return actual


@dataclass
class _Case:
    dtype: torch.dtype
    nf: int
    hw: tuple
    kwargs: dict
    schedule: list          # ("train" | "eval", batch size, layout) or ("refuse", 1, layout)

    def describe(self):
        text = f"{str(self.dtype).replace('torch.', '')}, C={self.nf} H={self.hw[0]} W={self.hw[1]}"
        return text + "".join(f", {k}={v}" for k, v in self.kwargs.items())


def _run_case(RunningBatchNorm, g, spec: _Case, device):
    nf, dtype = spec.nf, spec.dtype
    mom, eps = spec.kwargs.get("mom", 0.1), spec.kwargs.get("eps", 1e-5)
    case = f"init, {spec.describe()}"
    module = _build(RunningBatchNorm, case, nf, spec.kwargs)
    _check_structure(module, nf, case)
    reference = _Reference(nf, mom, eps)
    module = module.to(device=device, dtype=dtype)
    reference = reference.to(device=device, dtype=dtype)
    mults = randn((nf, 1, 1), g, dtype, device, scale=0.5, shift=1.0)
    adds = randn((nf, 1, 1), g, dtype, device, scale=0.5, shift=0.2)
    answer_params = dict(module.named_parameters())
    with _no_grad():
        for target in (answer_params["mults"], reference.mults):
            target.copy_(mults)
        for target in (answer_params["adds"], reference.adds):
            target.copy_(adds)
    # One channel with a tiny variance (the clamp matters), the others spread out, all fixed for the case.
    scale = randn((nf,), g, torch.float64).abs() + 0.5
    shift = randn((nf,), g, torch.float64)
    scale[0], shift[0] = 0.05, 0.0
    diagnoser = _Diagnoser(nf, mom, eps, mults, adds)

    previous = None  # the last training input the answer saw, and its gradient
    steps = 0
    for mode, bs, layout in spec.schedule:
        shape = (bs, nf) + tuple(spec.hw)
        x64 = randn(shape, g, torch.float64) * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)
        x = _layout(x64.to(device=device, dtype=dtype), layout)
        if mode == "refuse":
            _check_refusal(module, x, f"train, batch of 1 after step {steps}, {spec.describe()}")
            continue
        training = mode == "train"
        steps += training
        where = f"step {steps}" if training else f"after step {steps}"
        case = f"{mode} {where}, {spec.describe()}, N={bs}"
        case += f", {layout}" if layout != "contiguous" else ""
        g_out = randn(shape, g, dtype, device)
        diagnoser.entries.append(_Entry(training, x.detach().double().cpu(), g_out.detach().double().cpu()))
        previous = _check_pass(module, reference, x, g_out, training, diagnoser, previous, case)


def _check_refusal(module, x, case):
    module.train(True)
    before = {n: b.detach().clone() for n, b in _buffers(module).items()}
    try:
        with _guard(module, case):
            module(x)
    except CheckFailure:
        raise
    except ValueError:
        after = _buffers(module)
        for name, value in before.items():
            if name not in after or not close(after[name].detach(), value, _EXACT):
                fail(SUBJECT, case, f"raised ValueError but only after changing buffer '{name}'.",
                     "rbn_bs1_no_error")
        return
    except Exception as e:  # noqa: BLE001 - the exception type is the finding
        fail(SUBJECT, case, f"raised {type(e).__name__}: {e}; expected a ValueError with a clear message.",
             "rbn_bs1_no_error")
    fail(SUBJECT, case, "no error was raised for a training batch of one sample.", "rbn_bs1_no_error")


def _check_pass(module, reference, x, g_out, training, diagnoser, previous, case):
    module.train(training)
    reference.train(training)
    x_answer = x.detach().clone().requires_grad_(True)
    keep = x.detach().clone()
    prior = {n: b.detach().clone() for n, b in _buffers(module).items()}
    params = dict(module.named_parameters())
    for p in params.values():
        p.grad = None
    try:
        with _guard(module, case):
            out = module(x_answer)
    except CheckFailure:
        raise
    except Exception as e:  # noqa: BLE001
        fail(SUBJECT, case, f"forward(x) raised {type(e).__name__}: {e}")
    if not close(x_answer.detach(), keep, _EXACT):
        fail(SUBJECT, case, "forward changed its input in place; a layer must only read its input.")

    x_ref = x.detach().clone().requires_grad_(True)
    for p in (reference.mults, reference.adds):
        p.grad = None
    expected = reference(x_ref)
    compare(out, expected.detach(), subject=SUBJECT, case=case, what="the output",
            mistakes=diagnoser.mistakes("out", out))

    if training:
        # backward() as a training loop calls it: it walks the whole graph, so a graph kept from an earlier
        # step shows up (freed buffers raise; otherwise the earlier input receives gradient again).
        expected.backward(g_out)
        try:
            with _guard(module, case):
                out.backward(g_out)
        except RuntimeError as e:
            if "second time" in str(e) or "freed" in str(e):
                fail(SUBJECT, case, f"backward raised RuntimeError: {e}", "rbn_not_detached")
            fail(SUBJECT, case, f"backward raised RuntimeError: {e}")
        if previous is not None:
            old_x, old_grad = previous
            if old_x.grad is not None and not close(old_x.grad, old_grad, _EXACT):
                fail(SUBJECT, case, "backward of this step changed the gradient of the previous step's "
                     "input.", "rbn_not_detached")
        got = {"x": x_answer.grad, "mults": params["mults"].grad, "adds": params["adds"].grad}
        want = {"x": x_ref.grad, "mults": reference.mults.grad, "adds": reference.adds.grad}
    else:
        # autograd.grad only walks what leads to the inputs asked for (a fastai-style layer keeps the last
        # training step's graph in its buffers until the next update; it must not be walked twice).
        inputs = [x_answer, params["mults"], params["adds"]]
        try:
            with _guard(module, case):
                grads = _grad([out], inputs, [g_out], allow_unused=True)
        except RuntimeError as e:
            fail(SUBJECT, case, f"backward raised RuntimeError: {e}")
        got = dict(zip(("x", "mults", "adds"), grads))
        want = dict(zip(("x", "mults", "adds"), _grad([expected], [x_ref, reference.mults, reference.adds],
                                                      [g_out])))
    for name in ("x", "mults", "adds"):
        label = "the gradient of the input" if name == "x" else f"the gradient of {name}"
        if got[name] is None:
            fail(SUBJECT, case, f"{label} is None: the output does not depend on it through autograd.")
        compare(got[name], want[name], subject=SUBJECT, case=case, what=label, kind="grad",
                mistakes=diagnoser.mistakes(name, got[name]))

    buffers = _buffers(module)
    ref_buffers = _buffers(reference)
    for name in _BUFFERS:
        if name not in buffers:
            key = "rbn_dbias" if name == "dbias" else None
            fail(SUBJECT, case, f"buffer '{name}' is gone after forward.", key)
        actual = _as_expected(buffers[name], ref_buffers[name])
        lerp = None
        if name == "sums" and training and name in prior:
            lerp = lambda actual=actual: _lerp_weight(actual, prior["sums"], x, reference.mom)  # noqa: E731
        compare(actual, ref_buffers[name], subject=SUBJECT, case=case, what=f"buffer '{name}'",
                mistakes=diagnoser.mistakes(name, actual), family=lerp)
    if training:
        return x_answer, x_answer.grad.detach().clone()
    return previous


def _lerp_weight(sums, before, x, mom):
    """The weight with which the answer's ``sums`` moved towards this batch's sums, when it is one weight for
    every channel (read off the buffer): named as a wrong mom1 (mom itself and 1 - mom1 are catalogued apart)."""
    if type(sums) is not torch.Tensor or tuple(sums.shape) != tuple(before.shape):
        return None
    s = x.detach().double().sum(_DIMS, keepdim=True).to(sums.device)
    moved, room = (sums.detach().double() - before.double()), (s - before.double())
    if not bool((room.abs() > 1e-3 * (1 + s.abs())).all()):
        return None
    weights = (moved / room).flatten()
    w = float(weights.mean())
    bs = x.shape[0]
    mom1 = 1 - (1 - mom) / math.sqrt(bs - 1)
    tol = 1e-6 if sums.dtype == torch.float64 else 1e-3
    if not bool(((weights - w).abs() <= tol).all()) or min(abs(w - mom1), abs(w - mom), abs(w - 1 + mom1)) <= tol:
        return None
    return "rbn_mom1_formula", (f"a move of the sums towards this batch's with the weight {w:.4g} (in every "
                                f"channel), where mom1 = 1 - (1 - {mom:g}) / sqrt({bs} - 1) = {mom1:.4g}")


def _schedule(g, steps: int, layouts=("contiguous",)) -> list:
    """Random training steps with evaluation passes and one refused batch of 1 in between."""
    def pick(options):
        return options[int(_randint(len(options), (1,), generator=g))]
    out = [("train", pick([3, 8, 32]), pick(layouts))]
    eval_sizes = [2, 5]
    for i in range(steps - 1):
        out.append(("train", pick([2, 3, 8, 32]), pick(layouts)))
        if i % 3 == 1:
            out.append(("eval", pick(eval_sizes), pick(layouts)))
            eval_sizes = [1, 2, 5]  # a batch of 1 only after an eval of several samples
        if i == steps // 2:
            out.append(("refuse", 1, "contiguous"))
    out.append(("eval", pick([1, 3]), pick(layouts)))
    return out


def _cases(g, thorough):
    f32, f64 = torch.float32, torch.float64
    c = "contiguous"
    cases = [
        _Case(f64, 2, (3, 2), {"mom": 0.2, "eps": 1e-3},
              [("train", 3, c), ("train", 2, c), ("eval", 3, c), ("train", 8, c), ("train", 2, c),
               ("eval", 2, c)]),
        _Case(f32, 3, (4, 4), {},
              [("train", 8, c), ("train", 3, c), ("train", 2, c), ("refuse", 1, c), ("train", 8, c),
               ("eval", 5, c), ("eval", 1, c), ("train", 32, c), ("eval", 4, c)]),
    ]
    if not thorough:
        return cases

    def pick(options):
        return options[int(_randint(len(options), (1,), generator=g))]

    def dim():
        return int(_randint(1, 6, (1,), generator=g))

    layouts = ("contiguous", "contiguous", "channels_last", "transposed")
    for dtype in (f64, f32):
        for _ in range(2):
            kwargs = pick([{}, {"mom": pick([0.05, 0.2, 0.3])},
                           {"mom": pick([0.1, 0.3]), "eps": pick([1e-5, 1e-3])}])
            cases.append(_Case(dtype, 1 + dim(), (dim(), dim()), kwargs,
                               _schedule(g, 8 + int(_randint(0, 6, (1,), generator=g)), layouts)))
    # Past step 100, where the division by dbias stops. Batches of 2 keep mom1 = mom small, so dbias is
    # still visibly below 1 and a dbias that stopped being updated shows.
    long = [("train", 2, "contiguous")] * 103
    for at in (102, 101, 100, 99, 97):
        long.insert(at, ("eval", 2, "contiguous"))
    cases.append(_Case(f64, 2, (2, 2), {"mom": pick([0.05, 0.1])}, long))
    return cases


def check_running_batchnorm(RunningBatchNorm, *, thorough: bool = False, seed: int | None = None) -> None:
    """Check a learner's ``RunningBatchNorm`` against ``autograder.references.RunningBatchNorm``."""
    g = generator(0 if (seed is None and not thorough) else seed)
    # float64 cases first: a mistake with a small effect is then named in float64, where it is 10^4 times
    # the tolerance, rather than missed at the edge of float32's (norms.py's _FLOAT64_FIRST explains more).
    cases = sorted(_cases(g, thorough), key=lambda spec: spec.dtype != torch.float64)
    devs = devices() if thorough else devices()[:1]
    count = 0
    with no_tf32():
        for device in devs:
            for spec in cases:
                _run_case(RunningBatchNorm, g, spec, device)
                count += 1
    passed(SUBJECT, count, " (outputs, gradients and buffers after every step)")
