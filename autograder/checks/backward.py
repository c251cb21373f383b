"""Check for the hand-written batch-norm backward: a ``torch.autograd.Function`` against autograd.

The learner writes ``forward(ctx, x, weight, bias, eps)`` (training-mode normalization of an (N, C) input
with the biased batch variance, then ``weight * x_hat + bias``) and ``backward(ctx, dy)`` returning
``(dx, dweight, dbias, None)``. The reference is autograd through the same computation written with plain
torch ops; the known mistakes are modelled by the analytic gradient with one or two terms changed (``_dx_family``).

Upstream gradients are always random. An all-ones ``dy`` (what ``y.sum().backward()`` sends) hides most
mistakes: ``dy - mean(dy)`` is then zero and ``sum(x_hat)`` is zero, so the exact dx is 0 and a dx with a
missing term is 0 too.
"""

from __future__ import annotations

import torch

from . import batchnorm as _bn  # noqa: F401 - registers the forward mistakes reused below
from . import _families as fam
from ._core import (
    CheckFailure,
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
from .batchnorm import channel_distribution, check_close, dtype_name, one_thread, vjp

_Function = torch.autograd.Function
_Tensor = torch.Tensor
_grad = torch.autograd.grad
_gradcheck = torch.autograd.gradcheck
_EXACT = Tolerance(rtol=0.0, atol=0.0)

LAYER = "BatchNorm backward (autograd.Function)"
for _key, _name, _fix in [
    ("bn_backward_missing_mean_term", "dx misses the mean(dy) term",
     "the batch mean depends on every x_i, so differentiating through it subtracts the batch mean of the "
     "gradient reaching x_hat (dy * weight)."),
    ("bn_backward_missing_xhat_term", "dx misses the x_hat * mean(dy * x_hat) term",
     "the batch variance depends on every x_i too; differentiating through it gives a term proportional to "
     "x_hat times the batch mean of (dy * weight * x_hat)."),
    ("bn_backward_sum_not_mean", "sums over the batch where the formula averages (no 1 / N in the mean terms)",
     "the terms come from differentiating the batch MEAN and VARIANCE: subtract dx_hat.mean(0) and "
     "x_hat * (dx_hat * x_hat).mean(0), means over the N samples, not sums."),
    ("bn_backward_mean_wrong_axis", "averages over dim 1 (each sample's features) instead of over the batch",
     "the statistics were taken over the batch, dim 0, for each feature: the mean terms of dx are means over "
     "dim 0 (one value per feature), e.g. dx_hat.mean(0)."),
    ("bn_backward_missing_inv_std", "leaves the 1 / sqrt(var + eps) factor out of dx, or out of some of its terms",
     "x_hat = (x - mean) / sqrt(var + eps), so every term of dx is divided by sqrt(var + eps): multiply by the "
     "inv_std saved in forward."),
    ("bn_backward_sign_slip", "adds a term of dx that must be subtracted",
     "dx = (dx_hat - dx_hat.mean(0) - x_hat * (dx_hat * x_hat).mean(0)) / sqrt(var + eps): both mean terms are "
     "subtracted."),
    ("bn_backward_dweight_uses_x", "computes dweight from x (or x - mean) instead of x_hat",
     "y = weight * x_hat + bias, so dweight = (dy * x_hat).sum(0): the normalized input, saved in forward."),
    ("bn_backward_gradient_count", "backward returns another number of gradients than forward has inputs",
     "return one gradient per input of forward, in order: (dx, dweight, dbias, None), None for eps (a float)."),
    ("bn_backward_param_grads_wrong_reduction",
     "sums dweight / dbias over the wrong dimension (or averages, or does not sum)",
     "weight and bias have one entry per channel and are used by every sample: add up (not average) "
     "their per-sample gradients over the batch dimension."),
    ("bn_backward_unbiased_var", "uses the unbiased variance (n - 1) in the backward",
     "the forward normalized with the biased variance (divide by n), so the backward must use the same "
     "sqrt(var + eps) and the same 1/n: save them in forward instead of recomputing."),
    ("bn_backward_missing_weight", "does not multiply dx by weight",
     "y = weight * x_hat + bias, so the gradient reaching x_hat is dy * weight; dx is scaled by weight."),
    ("bn_backward_saved_input_modified", "keeps the input on ctx as an attribute and reads it in backward",
     "save tensors with ctx.save_for_backward(...) (autograd then detects in-place changes) or save what "
     "backward needs, x_hat and 1 / sqrt(var + eps), computed in forward."),
    ("bn_backward_forward_modifies_input", "modifies its input x in place",
     "compute new tensors (x - mean, not x -= mean): the caller still owns x and autograd may need it."),
]:
    mistake(_key, LAYER, _name, _fix)
delegation_mistake(
    "bn_backward_delegates_to_torch", LAYER,
    "compute forward and backward with tensor operations: in forward the batch mean, the biased variance and "
    "x_hat (saved for backward), in backward the formulas for dx, dweight and dbias. F.batch_norm / "
    "torch.batch_norm in forward, or torch's batch-norm backward kernel (torch.ops.aten.native_batch_norm_backward) "
    "in backward, hand the exercise to torch.")
_KEY = "bn_backward_delegates_to_torch"


def _guard(Fn, subject, case):
    return forbid_delegation(subject, case, _KEY, f"your {getattr(Fn, '__name__', 'answer')}")


def _reference(x, weight, bias, eps):
    """Training-mode batch norm with plain torch ops: autograd gives the reference gradients."""
    mean = x.mean(0)
    var = ((x - mean) ** 2).mean(0)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def _parts(x, weight, dy, eps):
    x, weight, dy = (t.detach().to("cpu", torch.float64) for t in (x, weight, dy))
    n = x.shape[0]
    xc = x - x.mean(0)
    var = (xc**2).mean(0)
    std = torch.sqrt(var + eps)
    std_u = torch.sqrt(var * n / (n - 1) + eps)
    return x, weight, dy, n, xc, var, std, std_u


def _dx(x, weight, dy, eps, flaw=""):
    """The analytic input gradient, or the one an unbiased-variance mistake gives (float64, CPU); the other
    slips are ``_dx_family``'s."""
    x, weight, dy, n, xc, var, std, std_u = _parts(x, weight, dy, eps)
    xhat = xc / std
    g = dy * weight
    if flaw == "unbiased_std":  # saved x_hat, but 1 / sqrt(unbiased var + eps) recomputed
        return (g - g.mean(0) - xhat * (g * xhat).mean(0)) / std_u
    if flaw == "unbiased_all":  # x_hat and std both recomputed with the unbiased variance
        xhat_u = xc / std_u
        return (g - g.mean(0) - xhat_u * (g * xhat_u).mean(0)) / std_u
    if flaw == "unbiased_staged":  # the staged (CS231n) chain rule with 2 (x - mean) / (n - 1) for dvar
        dvar = (g * xc).sum(0) * -0.5 * std**-3
        dmean = -(g / std).sum(0) + dvar * (-2 * xc).mean(0)
        return g / std + dvar * 2 * xc / (n - 1) + dmean / n
    return (g - g.mean(0) - xhat * (g * xhat).mean(0)) / std


def _dparams(x, weight, dy, eps, which):
    """Candidates for a wrongly reduced dweight / dbias: over dim 1, over everything, not at all, a mean."""
    x, weight, dy, n, xc, var, std, std_u = _parts(x, weight, dy, eps)
    per_element = dy * (xc / std) if which == "weight" else dy
    return [per_element.sum(1), per_element.sum(), per_element, per_element.mean(0)]


def _dweight_from_x(x, dy):
    x, dy = (t.detach().to("cpu", torch.float64) for t in (x, dy))
    return [(dy * x).sum(0), (dy * (x - x.mean(0))).sum(0)]


def _forward_models(x, weight, bias, eps):
    """Forward mistakes shared with the BatchNorm layers (their catalogue entries say what to fix)."""
    x64, w, b = (t.detach().to("cpu", torch.float64) for t in (x, weight, bias))
    n = x64.shape[0]
    xc = x64 - x64.mean(0)
    var = (xc**2).mean(0)
    return {
        "bn_unbiased_var_normalize": lambda: xc / torch.sqrt(var * n / (n - 1) + eps) * w + b,
        "bn_eps_outside_sqrt": lambda: xc / (torch.sqrt(var) + eps) * w + b,
        "bn_missing_sqrt": lambda: xc / (var + eps) * w + b,
    }


def _inputs(N, C, dtype, device, g):
    scales, shifts = channel_distribution(C, g)
    x = torch.randn(N, C, generator=g, dtype=torch.float64) * scales + shifts
    sign = torch.where(torch.rand(C, generator=g) < 0.2, -1.0, 1.0).double()
    weight = sign * (0.5 + 1.5 * torch.rand(C, generator=g, dtype=torch.float64))
    bias = 0.5 * torch.randn(C, generator=g, dtype=torch.float64)
    dy = torch.randn(N, C, generator=g, dtype=torch.float64)
    return [t.to(device=device, dtype=dtype) for t in (x, weight, bias, dy)]


def _case(Fn, N, C, dtype, eps, device, g, subject, thorough, modify_input=False):
    case = f"{dtype_name(dtype)}, N={N} C={C}, eps={eps:g}"
    if device.type != "cpu":
        case += f", {device.type}"
    if modify_input:
        case += ", input modified in place after forward"
    x, weight, bias, dy = _inputs(N, C, dtype, device, g)
    xa, wa, ba = (t.clone().requires_grad_(True) for t in (x, weight, bias))
    with _guard(Fn, subject, case):
        y = call(Fn.apply, subject, case, f"{Fn.__name__}.apply(x, weight, bias, eps)", xa, wa, ba, eps)
    if not close(xa, x, _EXACT):
        fail(subject, case, "forward changed the values of its input x.",
             "bn_backward_forward_modifies_input")
    xr, wr, br = (t.clone().requires_grad_(True) for t in (x, weight, bias))
    yr = _reference(xr, wr, br, eps)
    if thorough:  # the reference itself, against the closed form (catches a patched torch)
        independent = _dx(x, weight, dy, eps).to(dtype)
        (dx_ref,) = vjp(yr, [xr], dy, retain_graph=True)
        tol = Tolerance(1e-3, 1e-4) if dtype != torch.float64 else Tolerance(1e-8, 1e-9)
        if not close(dx_ref, independent, tol):
            fail(subject, case, "the autograd reference disagrees with the closed-form gradient: torch seems "
                 "to have been modified in this kernel. Restart the kernel and run all cells.")
    check_close(y, yr, subject=subject, case=case, what="forward output",
                mistakes=_forward_models(x, weight, bias, eps))
    if not y.requires_grad:
        fail(subject, case, "the output does not require grad: forward must be called through .apply.")
    if modify_input:
        with torch.no_grad():
            xa.copy_(torch.randn(x.shape, generator=g, dtype=torch.float64).to(xa) * 3 + 1)
        try:
            with _guard(Fn, subject, case):
                got = vjp(y, [xa, wa, ba], dy, allow_unused=True)
        except CheckFailure:
            raise
        except RuntimeError as e:
            if "inplace" in str(e) or "in-place" in str(e):
                return  # what torch does: ctx.save_for_backward noticed the modification
            fail(subject, case, f"backward raised RuntimeError: {e}")
        except Exception as e:  # noqa: BLE001
            fail(subject, case, f"backward raised {type(e).__name__}: {e}")
    else:
        try:
            with _guard(Fn, subject, case):
                got = call(vjp, subject, case, "backward", y, [xa, wa, ba], dy, allow_unused=True)
        except CheckFailure as failure:
            if failure.mistake == _KEY:
                raise
            # autograd itself rejects a dweight/dbias whose shape cannot be summed to (C,)
            if "invalid gradient at index 1" in str(failure) or "invalid gradient at index 2" in str(failure):
                fail(subject, case, str(failure).split(": ", 1)[-1],
                     "bn_backward_param_grads_wrong_reduction")
            if "returned an incorrect number of gradients" in str(failure):
                fail(subject, case, str(failure).split(": ", 1)[-1], "bn_backward_gradient_count")
            raise
    want = vjp(yr, [xr, wr, br], dy)
    for name, a, e in zip(("x", "weight", "bias"), got, want):
        if a is None:
            fail(subject, case, f"backward returned None as the gradient for {name}.")
        if modify_input:
            try:
                compare(a, e, subject=subject, case=case, what=f"gradient w.r.t. {name}", kind="grad")
            except CheckFailure as failure:
                fail(subject, case, str(failure).split(": ", 1)[-1] + " The caller changed x after forward; "
                     "backward must not depend on that.", "bn_backward_saved_input_modified")
            continue
        family = None
        if name == "x":
            models = {
                "bn_backward_unbiased_var": lambda: [
                    _dx(x, weight, dy, eps, f) for f in ("unbiased_std", "unbiased_all", "unbiased_staged")],
            }
            if type(a) is torch.Tensor:
                family = lambda a=a, e=e: fam.match(a, e, _dx_family(x, weight, dy, eps),  # noqa: E731
                                                    tolerance(e.dtype, "grad"))
        else:
            models = {"bn_backward_param_grads_wrong_reduction":
                      lambda which=name: _dparams(x, weight, dy, eps, which)}
            if name == "weight":
                models["bn_backward_dweight_uses_x"] = lambda: _dweight_from_x(x, dy)
        check_close(a, e, subject=subject, case=case, what=f"gradient w.r.t. {name}", kind="grad",
                    mistakes=models, family=family)


# The near misses of dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps), g = dy * weight: each slip as
# (tag, catalogue key), in the order a message names them when a candidate makes two.
_DX_SLIPS = {"sum": "bn_backward_sum_not_mean", "axis1": "bn_backward_mean_wrong_axis",
             "no_mean": "bn_backward_missing_mean_term", "no_xhat": "bn_backward_missing_xhat_term",
             "sign": "bn_backward_sign_slip", "no_inv_std": "bn_backward_missing_inv_std",
             "partial_inv_std": "bn_backward_missing_inv_std", "partial_inv_std_g": "bn_backward_missing_inv_std",
             "no_weight": "bn_backward_missing_weight"}


def _dx_family(x, weight, dy, eps):
    """(deviations, key, description, dx) for every dx with one or two slips of the compact formula: the means
    over the batch taken as sums or over dim 1, a term left out or added, the 1/std factor or the weight left out
    (``_families.match`` names the simplest that gives the answer's dx)."""
    x, weight, dy, n, xc, var, std, std_u = _parts(x, weight, dy, eps)
    xhat = xc / std
    reductions = {"": lambda t: t.mean(0), "sum": lambda t: t.sum(0), "axis1": lambda t: t.mean(1, keepdim=True)}
    out = []
    for red, reduce in reductions.items():
        for mean_term, mean_tag in ((-1, ""), (0, "no_mean"), (1, "sign")):
            for xhat_term, xhat_tag in ((-1, ""), (0, "no_xhat"), (1, "sign")):
                for inv_std in ("", "no_inv_std", "partial_inv_std", "partial_inv_std_g"):
                    for weighted in ("", "no_weight"):
                        tags = [t for t in (red, mean_tag, xhat_tag, inv_std, weighted) if t]
                        if not tags or len(tags) > 2 or (red and mean_term == 0 and xhat_term == 0):
                            continue
                        g = dy if weighted else dy * weight
                        first = g + mean_term * reduce(g)
                        last = xhat_term * xhat * reduce(g * xhat)
                        if inv_std == "partial_inv_std":  # the factor on the first terms only
                            dx = first / std + last
                        elif inv_std == "partial_inv_std_g":  # ... on g only
                            dx = g / std + mean_term * reduce(g) + last
                        else:
                            dx = first + last if inv_std else (first + last) / std
                        key = next(k for t, k in _DX_SLIPS.items() if t in tags)
                        out.append((len(tags), key, "dx with " + ", ".join(_DX_TEXT[t] for t in tags), dx))
    out.sort(key=lambda c: c[0])
    return out


_DX_TEXT = {"sum": "sums instead of means", "axis1": "means over dim 1", "no_mean": "no mean(g) term",
            "no_xhat": "no x_hat * mean(g * x_hat) term", "sign": "a term added instead of subtracted",
            "no_inv_std": "no 1 / sqrt(var + eps) factor", "no_weight": "g = dy instead of dy * weight",
            "partial_inv_std": "1 / sqrt(var + eps) on the first two terms only",
            "partial_inv_std_g": "1 / sqrt(var + eps) on the first term only"}


def _gradcheck_case(Fn, N, C, eps, g, subject):
    case = f"torch.autograd.gradcheck, float64, N={N} C={C}, eps={eps:g}"
    x = torch.randn(N, C, generator=g, dtype=torch.float64) * 2 + 1
    w = 0.5 + torch.rand(C, generator=g, dtype=torch.float64)
    b = torch.randn(C, generator=g, dtype=torch.float64)
    inputs = tuple(t.requires_grad_(True) for t in (x, w, b))
    with _guard(Fn, subject, case):
        ok = call(_gradcheck, subject, case, "gradcheck", lambda x, w, b: Fn.apply(x, w, b, eps), inputs,
                  eps=1e-6, atol=1e-6, rtol=1e-4, raise_exception=False)
    if ok is not True:
        fail(subject, case, "the analytic gradients differ from finite differences.")


# A batch of 2 only in float64: there x_hat is +-1 and dx is a difference of nearly equal terms, whose float32
# rounding (a correct answer's too) exceeds any tolerance that still catches a wrong formula.
_THOROUGH = [(16, 5, torch.float32, 1e-5), (2, 3, torch.float64, 1e-5), (7, 7, torch.float64, 1e-5),
             (64, 8, torch.float32, 1e-3), (3, 10, torch.float64, 0.1), (32, 16, torch.float32, 1e-5)]


def _random_case(g):
    def pick(options):
        return options[int(torch.randint(len(options), (1,), generator=g))]
    N, C = int(torch.randint(2, 40, (1,), generator=g)), int(torch.randint(1, 12, (1,), generator=g))
    dtype = pick([torch.float32, torch.float64])
    return (max(N, 4) if dtype == torch.float32 else N), C, dtype, pick([1e-5, 1e-3, 1e-2])


def check_batchnorm_backward(BatchNormFunction, *, thorough: bool = False, seed: int | None = None) -> None:
    """Check a batch-norm ``torch.autograd.Function`` against autograd, for (N, C) input.

    The contract is (N, C) only: ``BatchNormFunction.apply(x, weight, bias, eps)`` with x of shape (N, C),
    weight and bias of shape (C,), eps a float; training-mode statistics (batch mean, biased variance), no
    running statistics. A 4-d input is the same computation after moving C last and flattening to
    (N*H*W, C), so the lesson keeps the exercise to the matrix case where the algebra is visible.

    Visible: two cases (float32 and float64, N > C and N < C). Thorough: more shapes and eps values, fresh
    random inputs, CUDA when present, an input modified in place between forward and backward, and
    ``torch.autograd.gradcheck`` in float64.
    """
    subject = f"{getattr(BatchNormFunction, '__name__', 'answer')} (batch-norm backward vs autograd)"
    if not (isinstance(BatchNormFunction, type) and issubclass(BatchNormFunction, _Function)):
        fail(subject, "definition",
             f"expected a subclass of torch.autograd.Function, got {BatchNormFunction!r}.")
    g = generator(0 if seed is None and not thorough else seed)
    n = 0
    with one_thread(), no_tf32():
        if not thorough:
            for N, C, dtype, eps in [(8, 4, torch.float32, 1e-5), (5, 6, torch.float64, 1e-3)]:
                _case(BatchNormFunction, N, C, dtype, eps, torch.device("cpu"), g, subject, False)
                n += 1
        else:
            for device in devices():
                for N, C, dtype, eps in _THOROUGH + [_random_case(g) for _ in range(3)]:
                    _case(BatchNormFunction, N, C, dtype, eps, device, g, subject, True)
                    n += 1
                _case(BatchNormFunction, 8, 4, torch.float64, 1e-5, device, g, subject, True,
                      modify_input=True)
                n += 1
            for N, C, eps in [(5, 3, 1e-3), (3, 4, 1e-5)]:
                _gradcheck_case(BatchNormFunction, N, C, eps, g, subject)
                n += 1
    passed(subject, n, " (forward output and gradients for random upstream gradients)")

