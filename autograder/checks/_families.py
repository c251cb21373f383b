"""Recognise a normalization mistake by its effect: the computation, among a family of near misses, that the
answer's output reproduces.

Every normalization exercise computes ``(x - mean) / sqrt(var + eps)`` with statistics over some group of
values, then an affine step. Learners go wrong along a few independent axes: which values share statistics
(the dims reduced, or a reshape that puts other values together), the biased or unbiased variance, where eps and
the square root go, whether the mean is subtracted, and whether the statistics keep their reduced dims for
broadcasting. A ``Family`` lists a layer's groupings (the correct one first) and which catalogue key names each
way of deviating; ``explain`` computes every combination of at most two deviations, in float64, and names the
simplest one that reproduces the answer element by element (``_core.explains``). A candidate identical to the
reference in this case is never named, and neither is a tie between two different mistakes.

The catalogue entries shared by every norm layer (eps left out, the square root doubled, ...) are registered
here; the layer-specific ones (which dims, eps outside the root, ...) stay with their checks, which map this
module's deviation tags onto them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from itertools import combinations, product
from typing import Callable, Iterator, Mapping, Sequence

import torch

from ._core import explains, max_error, mistake

_float64 = torch.float64
NORMS = "normalization layers"

mistake("norm_eps_missing", NORMS, "leaves eps out: divides by sqrt(var) (or the std) with no eps",
        "add eps to the variance inside the square root, sqrt(var + eps), with the eps given to the constructor: "
        "it keeps a group with a tiny variance from blowing up, and torch's layers add it too")
mistake("norm_missing_sqrt", NORMS, "divides by the variance (var + eps) instead of the standard deviation",
        "divide by the standard deviation sqrt(var + eps): the variance is in squared units")
mistake("norm_multiplies_by_std", NORMS,
        "multiplies by the standard deviation instead of dividing by it (divides by torch.rsqrt, or multiplies "
        "by sqrt(var + eps))",
        "divide (x - mean) by torch.sqrt(var + eps), or multiply it by torch.rsqrt(var + eps) = 1 / sqrt(var + eps)")
mistake("norm_sqrt_of_std", NORMS, "takes the square root of the standard deviation: one square root too many",
        "the standard deviation is already the square root of the variance: divide by sqrt(var + eps) (or store "
        "x.std(..., unbiased=False) in Standardize), never by sqrt(std)")
mistake("norm_not_centered", NORMS, "does not subtract the mean before dividing by the standard deviation",
        "normalize the centred values: (x - mean) / sqrt(var + eps)")
mistake("norm_bias_before_weight", NORMS, "adds the bias before multiplying by the weight: (x_hat + bias) * weight",
        "scale first, then shift: x_hat * weight + bias")
mistake("norm_output_scrambled", NORMS, "puts the normalized values back at other positions than they came "
        "from (a transpose or permute not undone before the final reshape)",
        "undo every permute or transpose before reshaping back to the input's shape (e.g. y.transpose(1, 2) again, "
        "or movedim back), so that each value returns to its own position")
mistake("norm_mean_var_swapped", NORMS, "uses the variance as the mean and the mean as the variance (torch.var_mean "
        "returns (var, mean), in that order)", "unpack in torch's order: var, mean = torch.var_mean(x, dims, ...)")
mistake("norm_precedence", NORMS, "computes x - mean / std: the division happens before the subtraction",
        "put the subtraction in parentheses: (x - mean) / std")
mistake("norm_affine_before_normalize", NORMS, "applies weight and bias before normalizing (the normalization then "
        "undoes most of them)", "normalize first, then scale and shift: x_hat * weight + bias")
mistake("norm_var_count", NORMS, "divides the sum of squared deviations by another count than the number of values "
        "pooled (n, or n - 1 for the unbiased estimate)",
        "the biased variance is ((x - mean) ** 2).mean(dims), or x.var(dims, unbiased=False): the count is the "
        "number of values each statistic pools, e.g. N * H * W for a channel")
mistake("norm_eps_value", NORMS, "uses another eps than the one given to the constructor",
        "add self.eps, the constructor's eps argument, to the variance inside the square root (not a constant of "
        "your own, nor a power of it)")
mistake("norm_broadcast_wrong_dims", NORMS,
        "lines the statistics up with the wrong dims when broadcasting them against x (reduced without "
        "keepdim=True, or a (C,) vector broadcast against the last dim)",
        "keep the reduced dims (x.mean(dims, keepdim=True)), or reshape per-channel statistics to (1, C, 1, ...) "
        "so that each value meets the values it was computed from")

#: The denominators a learner writes, as functions of the variance and eps; the first is the correct one.
DENOMINATORS: dict[str, Callable] = {
    "sqrt(var + eps)": lambda v, e: (v + e).sqrt(),
    "sqrt(var) + eps": lambda v, e: v.sqrt() + e,
    "var + eps": lambda v, e: v + e,
    "sqrt(var)": lambda v, e: v.sqrt(),
    "1 / sqrt(var + eps)": lambda v, e: (v + e).rsqrt(),
    "sqrt(sqrt(var) + eps)": lambda v, e: (v.sqrt() + e).sqrt(),
    "sqrt(sqrt(var + eps))": lambda v, e: (v + e).sqrt().sqrt(),
    "var": lambda v, e: v,
}
CORRECT_DENOMINATOR = "sqrt(var + eps)"
#: The deviation tags of each denominator (a layer maps tags to catalogue keys).
DENOMINATOR_TAGS: dict[str, tuple[str, ...]] = {
    "sqrt(var + eps)": (),
    "sqrt(var) + eps": ("eps_outside",),
    "var + eps": ("missing_sqrt",),
    "sqrt(var)": ("eps_missing",),
    "1 / sqrt(var + eps)": ("multiplies_by_std",),
    "sqrt(sqrt(var) + eps)": ("sqrt_of_std",),
    "sqrt(sqrt(var + eps))": ("sqrt_of_std",),
    "var": ("missing_sqrt", "eps_missing"),
}
#: Which deviation a message names when a candidate has several: the first in this order.
PRIORITY = ("grouping", "mean_var_swapped", "no_keepdim", "affine_misaligned", "affine_first", "precedence",
            "not_centered", "multiplies_by_std", "missing_sqrt", "sqrt_of_std", "eps_outside", "eps_missing",
            "eps_value", "var_scale", "unbiased")
#: The catalogue keys every layer shares (a layer's own ``names`` come first).
SHARED = {"eps_missing": "norm_eps_missing", "missing_sqrt": "norm_missing_sqrt",
          "multiplies_by_std": "norm_multiplies_by_std", "sqrt_of_std": "norm_sqrt_of_std",
          "not_centered": "norm_not_centered", "no_keepdim": "norm_broadcast_wrong_dims",
          "affine_misaligned": "norm_broadcast_wrong_dims", "eps_value": "norm_eps_value",
          "mean_var_swapped": "norm_mean_var_swapped", "precedence": "norm_precedence",
          "affine_first": "norm_affine_before_normalize", "var_scale": "norm_var_count"}


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (a grouping may hold a tensor of labels)
class Grouping:
    """Which values share one mean and variance: ``dims`` of the input viewed as ``view(shape)`` (None: as it
    is). ``tag`` is None for the correct grouping, else the deviation's tag; ``label`` says it in a message.
    ``channel_axis``: the view's axis that the learner takes for the channels (a per-channel affine step may then
    be applied in the view, along that axis)."""

    tag: str | None
    label: str
    dims: tuple
    view: Callable[[tuple], tuple] | None = None
    channel_axis: int | None = None
    labels: torch.Tensor | None = None  # group ids of x's elements (see by_labels)


def by_labels(labels: torch.Tensor, tag: str, label: str) -> Grouping:
    """A grouping given element by element: ``labels`` (x's shape) holds each value's group id."""
    return Grouping(tag, label, (), labels=labels)


def labels_of(grouping: Grouping, shape: tuple) -> torch.Tensor:
    """The group id of every element of an input of ``shape`` under ``grouping``."""
    if grouping.labels is not None:
        return grouping.labels
    index = torch.arange(math.prod(shape)).reshape(shape)
    t = index.reshape(grouping.view(tuple(shape))) if grouping.view is not None else index
    dims = tuple(d % t.dim() for d in grouping.dims)
    kept = [d for d in range(t.dim()) if d not in dims]
    rows = t.permute(kept + list(dims)).reshape(-1, math.prod(t.shape[d] for d in dims))
    labels = torch.empty(math.prod(shape), dtype=torch.long)
    labels[rows] = torch.arange(rows.shape[0]).unsqueeze(1).expand_as(rows)
    return labels.reshape(shape)


def over(dims: Sequence[int], tag: str | None, names: str = "") -> Grouping:
    """A grouping by the dims reduced: ``over((0, 2, 3), None)`` is batch norm's."""
    dims = tuple(dims)
    named = names.split()
    text = f" ({', '.join(named[d] for d in dims)})" if named and max(dims) < len(named) else ""
    return Grouping(tag, f"over dims {dims}{text}", dims)


def regrouped(view: Callable[[tuple], tuple], dims: Sequence[int], tag: str, label: str,
              channel_axis: int | None = None) -> Grouping:
    """A grouping made by a reshape of the input (in its logical order), then a reduction of the view's dims."""
    return Grouping(tag, label, tuple(dims), view, channel_axis)


def subsets(ndim: int) -> Iterator[tuple]:
    """Every non-empty set of dims of an ``ndim``-d tensor, small ones first."""
    for k in range(1, ndim + 1):
        yield from combinations(range(ndim), k)


@dataclass
class Family:
    """A layer's near misses. ``names`` maps deviation tags (a grouping's tag, "unbiased", "eps_outside", ...) to
    catalogue keys; a deviation without a key is never proposed. ``affine`` is applied after normalizing (float64,
    on the CPU); ``channel_affine`` = (weight, bias) per channel, for a grouping with a ``channel_axis``.
    ``stats`` replaces the groupings by fixed statistics (mean, var), e.g. running ones."""

    groupings: Sequence[Grouping]
    names: Mapping[str, str]
    eps: float
    affine: Callable[[torch.Tensor], torch.Tensor] = lambda y: y
    channel_affine: tuple | None = None
    stats: tuple | None = None
    keepdim: bool = True  # also try statistics reduced without keepdim (broadcast from the right)
    most: int = 2  # deviations combined at most
    view_affine: bool = False  # also the per-channel affine step applied in a grouping's view (channel_affine's
    #                            values, or the caller's own, as batch norm's replay supplies them)
    misaligned: Callable[[torch.Tensor], torch.Tensor] | None = None  # the affine step with weight and bias
    #                            broadcast against the last dim (None: not a mistake this layer can make)
    misaligned_affine: bool = False  # also the misaligned affine step, applied by the caller (batch norm)
    unaffine: Callable[[torch.Tensor], torch.Tensor] | None = None  # undoes ``affine`` (to fit another eps)
    regroup: str | None = None  # the tag of a grouping inferred from the answer (see ``explain``'s partition)
    affine_first: bool = False  # also the affine step applied before normalizing (``explain`` applies it)
    denominators: Sequence[str] = field(default_factory=lambda: list(DENOMINATORS))

    def key(self, deviations: Sequence[str]) -> str | None:
        """The key naming a candidate with these deviations (its most important one), or None when one of them
        has no name: a candidate is only proposed when every deviation it makes is a known mistake."""
        keys = []
        for tag in deviations:
            key = self.names.get(tag, SHARED.get(tag))
            if key is None:
                return None
            keys.append((PRIORITY.index(tag) if tag in PRIORITY else PRIORITY.index("grouping"), key))
        return min(keys)[1] if keys else None

    def forms(self, ndim: int) -> list[Form]:
        """Every near miss with 1 to ``most`` deviations, all of them named, the simplest first."""
        out = []
        for g in [None] if self.stats is not None else list(self.groupings):
            plain = g is not None and g.view is None and g.labels is None
            keeps = ["yes"] + (["no", "no, centred too", "no, mean only"] if self.keepdim and plain and
                               len(g.dims) < ndim else [])
            in_view = [False] + ([True] if g is not None and g.channel_axis is not None and (
                self.view_affine or self.channel_affine is not None) else [])
            misaligned = [False] + ([True] if self.misaligned is not None or self.misaligned_affine else [])
            first = [False, True] if self.affine_first else [False]
            for unbiased, d, centered, keep, view_affine, wrong_affine, swapped, precedence, affine_first in product(
                    (False,) if g is None else (False, True), self.denominators, (True, False), keeps, in_view,
                    misaligned, (False, True), (False, True), first):
                if precedence and not centered:
                    continue
                form = Form(g, unbiased, d, centered, keep, view_affine, wrong_affine, swapped=swapped,
                            precedence=precedence, affine_first=affine_first)
                n = len(form.deviations())
                if 0 < n <= self.most and self.key(form.deviations()) is not None:
                    out.append(form)
        # the mean over one set of dims, the variance over another (one of them right)
        plain = [g for g in ([] if self.stats is not None else self.groupings) if g.view is None and g.labels is None]
        for g, gv in product(plain, plain):
            if g is not gv and (g.tag is None or gv.tag is None):
                form = Form(g, False, CORRECT_DENOMINATOR, True, "yes", var_grouping=gv)
                if self.key(form.deviations()) is not None:
                    out.append(form)
        out.sort(key=lambda f: len(f.deviations()))
        return out

    def correct(self) -> Form:
        return Form(None if self.stats is not None else self.groupings[0], False, CORRECT_DENOMINATOR, True, "yes")


@dataclass(frozen=True)
class Form:
    """One computation of the family: a grouping (None: the family's fixed statistics), the variance estimator,
    the denominator, whether the mean is subtracted, and whether the statistics keep their reduced dims."""

    grouping: Grouping | None
    unbiased: bool
    denominator: str
    centered: bool
    keepdim: str  # "yes"; "no": statistics without keepdim; "no, centred too": the variance from that centring
    affine_in_view: bool = False  # the per-channel affine step applied in the grouping's view
    affine_misaligned: bool = False  # the per-channel weight and bias broadcast against the last dim
    eps: float | None = None  # another eps than the layer's
    swapped: bool = False  # the mean used as the variance and the variance as the mean
    precedence: bool = False  # x - mean / std
    affine_first: bool = False  # the affine step applied to x before normalizing
    var_scale: float | None = None  # the variance multiplied by this (a wrong count)
    var_grouping: Grouping | None = None  # the variance taken over another grouping than the mean (plain dims)

    def deviations(self) -> tuple[str, ...]:
        out = []
        if self.grouping is not None and self.grouping.tag is not None:
            out.append(self.grouping.tag)
        if self.var_grouping is not None and self.var_grouping.tag is not None:
            out.append(self.var_grouping.tag)
        if self.keepdim != "yes":
            out.append("no_keepdim")
        if self.affine_misaligned:
            out.append("affine_misaligned")
        if self.eps is not None:
            out.append("eps_value")
        if self.swapped:
            out.append("mean_var_swapped")
        if self.precedence:
            out.append("precedence")
        if self.affine_first:
            out.append("affine_first")
        if self.var_scale is not None:
            out.append("var_scale")
        if not self.centered:
            out.append("not_centered")
        out += DENOMINATOR_TAGS[self.denominator]
        if self.unbiased:
            out.append("unbiased")
        return tuple(out)

    def describe(self, stats: str = "") -> str:
        """The computation in words; ``stats`` names fixed statistics ("running": the running mean and var)."""
        top = "(x - mean)" if self.centered else "x"
        text = f"x - mean {_WRITTEN[self.denominator]}" if self.precedence else f"{top} {_WRITTEN[self.denominator]}"
        if self.affine_first:
            text += " of x * weight + bias (no affine step after)"
        if self.grouping is None or stats:
            text += f" with the {stats or 'given'} mean and var"
        elif self.var_grouping is not None:
            var = f"{'unbiased' if self.unbiased else 'biased'} var"
            text += f" with the mean {self.grouping.label} and the {var} {self.var_grouping.label}"
        else:
            var = f"{'unbiased' if self.unbiased else 'biased'} var"
            text += f" with the {'mean and ' if self.centered else ''}{var} {self.grouping.label}"
        notes = []
        if self.swapped:
            notes.append("the mean and the variance swapped")
        if self.keepdim != "yes":
            notes.append("the statistics reduced without keepdim=True and broadcast against the last dims" if
                         self.grouping is not None and not stats else "the statistics broadcast against the last dim")
        if self.eps is not None:
            notes.append(f"eps = {self.eps:.4g}")
        if self.var_scale is not None:
            notes.append(f"the variance times {self.var_scale:.4g}")
        if self.affine_misaligned:
            notes.append("weight and bias broadcast against the last dim")
        return text + "".join(f", {n}" for n in notes)


_WRITTEN = {"sqrt(var + eps)": "/ sqrt(var + eps)", "sqrt(var) + eps": "/ (sqrt(var) + eps)",
            "var + eps": "/ (var + eps)", "sqrt(var)": "/ sqrt(var)", "1 / sqrt(var + eps)": "* sqrt(var + eps)",
            "sqrt(sqrt(var) + eps)": "/ sqrt(sqrt(var) + eps)", "sqrt(sqrt(var + eps))": "/ sqrt(sqrt(var + eps))",
            "var": "/ var"}


def normalize(form: Form, x: torch.Tensor, eps: float, stats: tuple | None = None,
              channel_affine: tuple | None = None, cache: dict | None = None) -> torch.Tensor | None:
    """What ``form`` computes from ``x`` before the affine step (differentiable; ``x``'s dtype and device), or,
    when ``form.affine_in_view``, after the per-channel affine step ``channel_affine`` applied in the view. None
    where the form cannot be computed for this shape. ``stats``: the fixed (mean, var) of a form without
    grouping (broadcastable against x)."""
    eps = eps if form.eps is None else form.eps
    if form.grouping is None:
        mean, var = stats
        return _combine(form, x, mean, var, eps)
    g = form.grouping
    try:
        t = x.reshape(g.view(tuple(x.shape))) if g.view is not None else x
    except RuntimeError:
        return None
    slot = (g, form.keepdim)
    cache = {} if cache is None else cache
    if slot not in cache:
        cache[slot] = _moments(t, g, form.keepdim)
    if cache[slot] is None:
        return None
    mean, var, n = cache[slot]
    if form.var_grouping is not None:
        other = (form.var_grouping, "yes")
        if other not in cache:
            cache[other] = _moments(t, form.var_grouping, "yes")
        _, var, n = cache[other]
    if form.unbiased:
        if bool((torch.as_tensor(n) < 2).any()):
            return None
        var = var * n / (n - 1)
    if form.var_scale is not None:
        var = var * form.var_scale
    try:
        y = _combine(form, t, mean, var, eps)
    except RuntimeError:  # statistics that do not broadcast against x: not this form
        return None
    if tuple(y.shape) != tuple(t.shape):
        return None
    if form.affine_in_view:
        w, b = channel_affine
        shape = [1] * t.dim()
        shape[g.channel_axis] = -1
        if t.shape[g.channel_axis] != w.numel():
            return None
        y = y * w.reshape(shape) + b.reshape(shape)
    return y.reshape(x.shape)


def _combine(form: Form, t, mean, var, eps):
    """``(t - mean) / denominator(var)`` as ``form`` writes it."""
    if form.swapped:
        mean, var = var, mean
    denominator = DENOMINATORS[form.denominator](var, eps)
    if form.precedence:
        return t - mean / denominator
    return ((t - mean) if form.centered else t) / denominator


def _moments(t: torch.Tensor, g: Grouping, keepdim: str):
    if g.labels is not None:  # per group id: means, variances and counts spread back to every element
        ids = g.labels.reshape(-1).to(t.device)
        groups = int(ids.max()) + 1
        flat = t.reshape(-1)
        zeros = torch.zeros(groups, dtype=t.dtype, device=t.device)
        count = zeros.index_add(0, ids, torch.ones_like(flat))
        mean = zeros.index_add(0, ids, flat) / count
        var = zeros.index_add(0, ids, (flat - mean[ids]) ** 2) / count
        return mean[ids].reshape(t.shape), var[ids].reshape(t.shape), count[ids].reshape(t.shape)
    dims = tuple(d % t.dim() for d in g.dims)
    n = math.prod(t.shape[d] for d in dims)
    mean = t.mean(dims, keepdim=True)
    if keepdim == "yes":
        return mean, ((t - mean) ** 2).mean(dims, keepdim=True), n
    flat = mean.squeeze(dims)
    try:
        centred = t - flat
    except RuntimeError:
        return None
    if keepdim == "no":
        return flat, ((t - mean) ** 2).mean(dims), n
    if keepdim == "no, mean only":  # the variance kept its dims (x.var(dims, keepdim=True))
        return flat, ((t - mean) ** 2).mean(dims, keepdim=True), n
    return flat, (centred ** 2).mean(dims), n


def search(actual: torch.Tensor, expected: torch.Tensor, forms: Sequence[Form],
           compute: Callable[[Form], torch.Tensor | None], family: Family, tol,
           running: bool = False, confirm: Callable[[Form], bool] | None = None) -> tuple[str, str] | None:
    """``(key, description)`` of the simplest form whose result (``compute(form)``) reproduces ``actual``
    (``_core.explains``: element by element, and not ``expected``).

    At the simplest level that matches, two forms of different keys are a tie unless they compute the same
    values in this case (then the family's order decides, as two mistakes that coincide here are both what the
    answer did here); a tie names nothing, unless one form is ten times nearer to the answer than the other.
    ``running``: the result was computed with running statistics (the description says so). ``confirm(form)``:
    a further test of a form that reproduces the answer (e.g. that it predicts what the answer got right)."""
    stats = "running" if running else ""
    return match(actual, expected, ((len(f.deviations()), family.key(f.deviations()), f.describe(stats),
                                     lambda f=f: compute(f), None if confirm is None else lambda f=f: confirm(f))
                                    for f in forms), tol)


def _choose(found: list, tol) -> tuple[str, str] | None:
    """The ``(key, description)`` among ``found`` = [(error, key, description, candidate)], all reproducing the
    answer at the same level of simplicity, in the family's order: the nearest one, where the candidates that
    coincide with it in this case defer to the first of them, and no other key's candidate is within ten times
    its error (a tie names nothing)."""
    if not found:
        return None
    err, _, _, best = min(found, key=lambda f: f[0])
    same = [f for f in found if explains(best, f[3], None, tol)]
    _, key, description, _ = same[0]
    for other_err, other_key, _, other in found:
        if other_key != key and not any(other is f[3] for f in same) and not err < 0.1 * other_err:
            return None
    return key, description


def match(actual: torch.Tensor, expected: torch.Tensor, candidates, tol) -> tuple[str, str] | None:
    """``search`` for candidates given directly: ``candidates`` yields (deviations, key, description, tensor or a
    function computing it[, confirm]), simplest first; the simplest level with candidates that reproduce ``actual``
    (and that ``confirm()``, when given, accepts) decides (``_choose``)."""
    level, found = None, []
    a = actual.detach().to("cpu", _float64)
    for n, key, description, candidate, *confirm in candidates:
        if level is not None and n > level:
            break
        candidate = candidate() if callable(candidate) else candidate
        if candidate is None or not explains(a, candidate, expected, tol):
            continue
        if confirm and confirm[0] is not None and not confirm[0]():
            continue
        level = n
        found.append((max_error(a, candidate)[0], key, description, candidate))
    return _choose(found, tol)


def explain(actual: torch.Tensor, expected: torch.Tensor | None, x: torch.Tensor, family: Family, tol,
            partition: Callable[[], torch.Tensor | None] | None = None) -> tuple[str, str] | None:
    """``(catalogue key, description)`` of the simplest near miss of ``family`` that reproduces ``actual`` on the
    input ``x`` (computed in float64 on the CPU), or None. ``expected``: the reference's result, never explained
    (None: the family's own correct form).

    When no listed near miss does, two more are fitted to the answer itself, and named only if they then
    reproduce it element by element: the correct computation with another eps (read off the answer, given
    ``family.unaffine``), and the computation over the groups of values the answer really pooled, which
    ``partition()`` infers (each value's group id, or None) -- whatever reshape or reduction made them."""
    if actual is None or tuple(actual.shape) != tuple(x.shape):
        return None
    x = x.detach().to("cpu", _float64).contiguous()
    if not bool(torch.isfinite(x).all()):
        return None
    stats = None if family.stats is None else tuple(t.detach().to("cpu", _float64) for t in family.stats)
    ca = None if family.channel_affine is None else tuple(t.detach().to("cpu", _float64)
                                                          for t in family.channel_affine)
    cache: dict = {}

    def compute(form):
        with torch.no_grad():
            if form.affine_first:
                y = normalize(form, family.affine(x), family.eps, stats, ca, {})
                return y
            y = normalize(form, x, family.eps, stats, ca, cache)
            if y is None or form.affine_in_view:
                return y
            try:
                return family.misaligned(y) if form.affine_misaligned else family.affine(y)
            except RuntimeError:  # weight and bias that do not broadcast against the last dim
                return None

    if expected is None:
        expected = compute(family.correct())
    a = actual.detach().to("cpu", _float64)
    found = search(a, expected, family.forms(x.dim()), compute, family, tol)
    if found is None and family.unaffine is not None:
        found = _other_eps(a, expected, x, family, stats, compute, tol)
    if found is None and partition is not None and family.regroup is not None and family.stats is None:
        groups = partition()
        if groups is not None and not bool((groups[0] == groups[1]).all()):
            found = _moved(a, x, family, *groups, tol)
        elif groups is not None:
            labels = groups[0]
            correct = labels_of(family.groupings[0], tuple(x.shape))
            if not _same_partition(labels, correct):
                inferred = by_labels(labels, family.regroup, _partition_text(labels, correct))
                found = search(a, expected, replace(family, groupings=[inferred]).forms(x.dim()), compute, family,
                               tol)
    return found


def _moved(a, x, family, in_labels, out_labels, tol):
    """Output values that do not sit where their inputs were: named when every group's outputs are, as a set, its
    inputs normalized with the group's statistics (the values are right, their places are not)."""
    if family.unaffine is None:
        return None
    with torch.no_grad():
        z = family.unaffine(a).reshape(-1)
        xs, ins, outs = x.reshape(-1), in_labels.reshape(-1), out_labels.reshape(-1)
        for k in torch.unique(ins).tolist():
            values, targets = xs[ins == k], z[outs == k]
            if values.numel() != targets.numel() or values.numel() < 2:
                return None
            normalized = (values - values.mean()) / (values.var(unbiased=False) + family.eps).sqrt()
            if not explains(targets.sort().values, normalized.sort().values, None, tol):
                return None
    shape = tuple(x.shape)
    i = int((in_labels.reshape(-1) != out_labels.reshape(-1)).nonzero()[0])
    return "norm_output_scrambled", (f"a normalization of groups of values whose results are put back at other "
                                     f"positions: the value at {_at(i, shape)} is computed from another group than "
                                     "its input's")



def _other_eps(a, expected, x, family, stats, compute, tol):
    """The correct computation with the eps, or the variance count, that the answer used (read off its output),
    if that reproduces it element by element."""
    with torch.no_grad():
        z = family.unaffine(a)
        for unbiased in (False, True):
            if stats is not None:
                if unbiased:
                    break
                g, mean, var = None, *stats
                centred, var = torch.broadcast_tensors(x - mean, var)
            else:
                g = family.groupings[0]
                t = x.reshape(g.view(tuple(x.shape))) if g.view is not None else x
                mean, var, n = _moments(t, g, "yes")
                var = var * n / (n - 1) if unbiased else var
                centred, var = (u.reshape(x.shape) for u in torch.broadcast_tensors(t - mean, var))
            for form in fitted(z, centred, var, family.eps, g, unbiased):
                if family.key(form.deviations()) is None:
                    continue
                candidate = compute(form)
                if candidate is not None and explains(a, candidate, expected, tol):
                    return family.key(form.deviations()), form.describe()
    return None


def fitted(z, centred, var, eps, grouping, unbiased=False) -> list[Form]:
    """The forms with the eps, and with the variance scale, that make ``centred / sqrt(var + eps) = z`` hold at
    the median over the values where z is not small (what an answer's normalized output ``z`` implies)."""
    usable = z.abs() > 0.5
    if not bool(usable.any()):
        return []
    implied = (centred[usable] / z[usable]) ** 2  # = var + eps, the answer's
    out = []
    eps_hat = float((implied - var[usable]).median())
    if math.isfinite(eps_hat) and eps_hat > -float(var.min()):
        out.append(Form(grouping, unbiased, CORRECT_DENOMINATOR, True, "yes", eps=eps_hat))
    scale = float(((implied - eps) / var[usable]).median())
    if math.isfinite(scale) and scale > 0:
        out.append(Form(grouping, unbiased, CORRECT_DENOMINATOR, True, "yes", var_scale=scale))
    return out


def _same_partition(a: torch.Tensor, b: torch.Tensor) -> bool:
    pairs = torch.unique(torch.stack([a.reshape(-1), b.reshape(-1)]), dim=1).shape[1]
    return pairs == torch.unique(a).numel() == torch.unique(b).numel()


def _partition_text(labels: torch.Tensor, correct: torch.Tensor) -> str:
    """How the groups the answer pooled differ from the layer's, with one example."""
    shape = tuple(labels.shape)
    a, c = labels.reshape(-1), correct.reshape(-1)
    sizes = sorted(set(torch.bincount(a)[torch.unique(a)].tolist()))
    text = f"over groups of {' or '.join(map(str, sizes))} values inferred from your output's gradient"
    for i in range(a.numel()):
        mixed = ((a == a[i]) & (c != c[i])).nonzero()
        if mixed.numel():
            j = int(mixed[0])
            return (f"{text}; e.g. the values at {_at(i, shape)} and {_at(j, shape)} share statistics, but belong "
                    "to different groups")
        split = ((a != a[i]) & (c == c[i])).nonzero()
        if split.numel():
            j = int(split[0])
            return f"{text}; e.g. the values at {_at(i, shape)} and {_at(j, shape)} should share statistics"
    return text


def _at(flat: int, shape: tuple) -> tuple:
    return tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), shape))


def partition_from_gradient(out: torch.Tensor, x: torch.Tensor, limit: int = 1024):
    """Which input values each output value depends on, from autograd (one backward pass per output value, so
    only for up to ``limit`` values): a normalization's output value depends on exactly the values it shares
    statistics with. Returns ``(groups of the inputs, groups of the outputs)`` (group ids, x's shape), or None
    when the dependencies do not split the input into groups (or there is no graph to follow). The two differ
    where an output value does not sit where its own input value was (a permute not undone)."""
    if out.numel() > limit or out.shape != x.shape or not out.requires_grad:
        return None
    flat = out.reshape(-1)
    rows = []
    try:
        for i in range(flat.numel()):
            (g,) = torch.autograd.grad(flat[i], x, retain_graph=True, allow_unused=True)
            if g is None:
                return None
            rows.append(g.reshape(-1) != 0)
    except RuntimeError:
        return None
    support = torch.stack(rows)
    groups, out_labels = torch.unique(support, dim=0, return_inverse=True)
    if not bool((groups.sum(0) == 1).all()):  # the groups must not overlap, and must cover every input value
        return None
    in_labels = groups.long().argmax(0)
    return in_labels.reshape(x.shape), out_labels.reshape(x.shape)
