"""Checks for lesson 09's schedules: ``sched_lin``/``sched_cos``/``combine_scheds`` and ``LRSchedulerCB``.

Contract (fastai course-v3 ``05_anneal`` style):

* ``sched_lin(start, end)`` and ``sched_cos(start, end)`` return functions of ``pos`` in [0, 1] going from
  ``start`` (pos 0) to ``end`` (pos 1): linearly, and along half a cosine,
  ``start + (1 - cos(pi * pos)) * (end - start) / 2``.
* ``combine_scheds(pcts, scheds)``: ``pcts`` sum to 1 and split [0, 1] into consecutive phases; ``pos`` in
  phase ``i`` (from ``sum(pcts[:i])`` to ``sum(pcts[:i+1])``) gives ``scheds[i]`` at pos rescaled to that
  phase's own [0, 1]. ``pos = 1`` belongs to the last phase (its value at 1).
* ``LRSchedulerCB(sched)`` (a ``normlab.Callback``): before every *training* batch sets ``lr`` of every
  parameter group of ``learn.opt`` to ``sched(pos)``, ``pos = batches done / total training batches of the
  fit`` (``learn.n_epochs * len(learn.dls.train)``), and appends that lr to ``self.lrs``.

The callback runs inside a real ``normlab.Learner`` with a tiny model and a fake optimizer with three
parameter groups that records every group's lr when ``step`` is called. Diagnoses compare what an answer
did with what known mistakes would do (mistake models, evaluated only after a mismatch).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._core import CheckFailure, fail, generator, mistake, passed

SUBJECT_S = "schedules"
SUBJECT_CB = "LRSchedulerCB"
_cos, _sin, _pi = math.cos, math.sin, math.pi

mistake("sched_cos_reversed", SUBJECT_S, "sched_cos goes from end to start (the cosine runs the wrong way)",
        "return start + (1 - cos(pi * pos)) * (end - start) / 2: at pos 0 it gives start, at pos 1 end")
mistake("sched_cos_sin", SUBJECT_S, "sched_cos follows a quarter sine wave instead of half a cosine",
        "use start + (1 - cos(pi * pos)) * (end - start) / 2: flat at both ends, steepest in the middle")
mistake("sched_lin_reversed", SUBJECT_S, "sched_lin goes from end to start",
        "return start + pos * (end - start): start at pos 0, end at pos 1")
mistake("sched_lin_wrong_end", SUBJECT_S, "sched_lin starts at start but does not end at end (e.g. start + pos * end)",
        "interpolate: start + pos * (end - start) gives start at pos 0 and end at pos 1")
mistake("sched_cos_not_halved", SUBJECT_S, "sched_cos leaves out the / 2: it overshoots to 2 * end - start",
        "1 - cos(pi * pos) goes from 0 to 2: start + (1 - cos(pi * pos)) * (end - start) / 2")
mistake("sched_cos_full_period", SUBJECT_S, "sched_cos runs a whole cosine period (cos(2 * pi * pos)): back at start "
        "when pos = 1", "half a period: cos(pi * pos), so that pos = 1 gives end")
mistake("sched_combine_not_shifted", SUBJECT_S, "combine_scheds divides pos by the phase's length without first "
        "subtracting the phase's start", "a phase's own pos is (pos - start_i) / (end_i - start_i): 0 where the "
        "phase starts, 1 where it ends")
mistake("sched_combine_not_rescaled", SUBJECT_S,
        "combine_scheds passes the global pos to each phase instead of rescaling it to the phase's [0, 1]",
        "call scheds[i]((pos - start_i) / (end_i - start_i)) where start_i, end_i are phase i's bounds")
mistake("sched_combine_misaligned", SUBJECT_S, "combine_scheds picks the wrong phase for some pos "
        "(phase boundaries off by one)", "phase i runs from sum(pcts[:i]) to sum(pcts[:i+1]): take the cumulative "
        "sums of [0] + pcts and pick the last start <= pos")
mistake("sched_combine_end", SUBJECT_S, "combine_scheds fails or is wrong at pos = 1",
        "pos = 1 belongs to the last phase: clamp the phase index to len(scheds) - 1")
mistake("sched_cb_per_epoch", SUBJECT_CB, "pos restarts at 0 every epoch (batches of this epoch / batches per epoch)",
        "count training batches over the whole fit: pos = batches done / (learn.n_epochs * len(learn.dls.train))")
mistake("sched_cb_after_step", SUBJECT_CB, "the lr is set after the optimizer step (each step uses the previous lr)",
        "set the lr in before_batch, so the step of batch k uses sched(k / total)")
mistake("sched_cb_first_group", SUBJECT_CB, "only the first parameter group gets the new lr",
        "loop over learn.opt.param_groups and set g['lr'] in every one")
mistake("sched_cb_total_one_epoch", SUBJECT_CB, "pos divides by one epoch's training batches, not the whole fit's",
        "total = learn.n_epochs * len(learn.dls.train): pos must reach 1 at the end of the last epoch")
mistake("sched_cb_pos_off_by_one", SUBJECT_CB, "pos is off by one batch (divides by total - 1, or counts the "
        "batch before it starts)", "pos = batches already done / total: 0 for the first batch, (total - 1) / total "
        "for the last")
mistake("sched_cb_counts_valid", SUBJECT_CB, "validation batches also advance pos (or change the lr)",
        "only act when learn.training is True: validation batches are not training steps")


def _num(value, subject, case, what):
    try:
        out = float(value)
    except Exception as e:  # noqa: BLE001
        fail(subject, case, f"{what} returned {type(value).__name__}, which is not a number ({e}).")
    return out


def _call(fn, subject, case, what, *args):
    try:
        return fn(*args)
    except CheckFailure:
        raise
    except Exception as e:  # noqa: BLE001 - the answer's exception, reported with its case
        return e


def _close(a, b):
    return abs(a - b) <= 1e-6 + 1e-6 * abs(b)


def _lin(a, b):
    return lambda p: a + p * (b - a)


def _cosine(a, b):
    return lambda p: a + (1 - _cos(_pi * p)) * (b - a) / 2


def _check_fn(fn, want, models, subject, case, positions):
    """Compare fn(pos) with want(pos) at every pos; on a mismatch name the model fn matches everywhere."""
    got = {}
    for p in positions:
        v = _call(fn, subject, case, "schedule", p)
        if isinstance(v, Exception):
            key = "sched_combine_end" if p == 1.0 and "combine" in case else None
            fail(subject, f"{case}, pos={p}", f"raised {type(v).__name__}: {v}", key, cause=v)
        got[p] = _num(v, subject, case, "the schedule")
    for p in positions:
        if not _close(got[p], want(p)):
            key = None
            for k, model in models.items():
                try:
                    if all(_close(got[q], model(q)) for q in positions):
                        key = k
                        break
                except Exception:  # noqa: BLE001 - a model that does not apply
                    continue
            fail(subject, f"{case}, pos={p}", f"gives {got[p]:.6g}, expected {want(p):.6g}.", key)


def _straight_from(fn, start):
    """The straight line from ``start`` through the answer's value at pos 1 (a linear schedule with a wrong end);
    a model only when that value is not the right end, and a number."""
    try:
        end = float(fn(1.0))
    except Exception:  # noqa: BLE001 - then no line to draw
        return lambda p: math.nan
    return _lin(start, end)


def _combined(pcts, scheds):
    bounds = [0.0]
    for p in pcts:
        bounds.append(bounds[-1] + p)

    def f(pos):
        i = max(k for k in range(len(scheds)) if pos >= bounds[k] - 1e-12)
        return scheds[i]((pos - bounds[i]) / (bounds[i + 1] - bounds[i]))
    return f


def _marker(i):
    """Phase i's schedule: 10 * i + its own pos, so the output tells which phase ran and at what pos."""
    return lambda p: 10.0 * i + float(p)


def check_schedules(sched_lin, sched_cos=None, combine_scheds=None, *, thorough: bool = False,
                    seed: int | None = None):
    """Check ``sched_lin``, ``sched_cos`` and ``combine_scheds`` at many positions.

    The three may also come as one tuple (the test corpus passes one ``ANSWER``).
    """
    if sched_cos is None and combine_scheds is None and isinstance(sched_lin, tuple):
        sched_lin, sched_cos, combine_scheds = sched_lin
    g = generator(0 if (seed is None and not thorough) else seed)
    positions = [0.0, 0.1, 0.25, 0.5, 0.6, 0.75, 0.9, 1.0]
    if thorough:
        positions += [float(v) for v in torch.rand(12, generator=g, dtype=torch.float64)]
    pairs = [(0.6, 2.0), (2.0, 0.1), (-1.0, 3.5)]
    if thorough:
        pairs += [tuple(float(v) for v in torch.randn(2, generator=g, dtype=torch.float64) * 3) for _ in range(3)]
    n = 0
    for a, b in pairs:
        case = f"sched_lin({a:g}, {b:g})"
        fn = _call(sched_lin, SUBJECT_S, case, "sched_lin", a, b)
        if isinstance(fn, Exception):
            fail(SUBJECT_S, case, f"raised {type(fn).__name__}: {fn}", cause=fn)
        _check_fn(fn, _lin(a, b), {"sched_lin_reversed": _lin(b, a),
                                   "sched_lin_wrong_end": _straight_from(fn, a)}, SUBJECT_S, case, positions)
        case = f"sched_cos({a:g}, {b:g})"
        fn = _call(sched_cos, SUBJECT_S, case, "sched_cos", a, b)
        if isinstance(fn, Exception):
            fail(SUBJECT_S, case, f"raised {type(fn).__name__}: {fn}", cause=fn)
        models = {"sched_cos_reversed": _cosine(b, a),
                  "sched_cos_sin": lambda p, a=a, b=b: a + (b - a) * _sin(_pi / 2 * p),
                  "sched_cos_not_halved": lambda p, a=a, b=b: a + (1 - _cos(_pi * p)) * (b - a),
                  "sched_cos_full_period": lambda p, a=a, b=b: a + (1 - _cos(2 * _pi * p)) * (b - a) / 2}
        _check_fn(fn, _cosine(a, b), models, SUBJECT_S, case, positions)
        n += 2
    splits = [[0.3, 0.7], [0.25, 0.25, 0.5]]
    if thorough:
        for k in (2, 3, 4):
            w = torch.rand(k, generator=g, dtype=torch.float64) + 0.2
            splits.append([float(v) for v in (w / w.sum())])
    for pcts in splits:
        scheds = [_marker(i) for i in range(len(pcts))]
        case = f"combine_scheds({[round(p, 3) for p in pcts]}, phase schedules 10*i + pos)"
        fn = _call(combine_scheds, SUBJECT_S, case, "combine_scheds", list(pcts), scheds)
        if isinstance(fn, Exception):
            fail(SUBJECT_S, case, f"raised {type(fn).__name__}: {fn}", cause=fn)
        bounds = [sum(pcts[:i]) for i in range(len(pcts) + 1)]
        pos = sorted(set(positions + [b for b in bounds[1:-1]] + [b + 0.01 for b in bounds[1:-1]] +
                         [b - 0.01 for b in bounds[1:-1]]))
        want = _combined(pcts, scheds)
        got = {}
        for p in pos:
            v = _call(fn, SUBJECT_S, case, "combined", p)
            if isinstance(v, Exception):
                fail(SUBJECT_S, f"{case}, pos={p:.4g}", f"raised {type(v).__name__}: {v}",
                     "sched_combine_end" if p == 1.0 else None, cause=v)
            got[p] = _num(v, SUBJECT_S, case, "the combined schedule")
        for p in pos:
            if _close(got[p], want(p)):
                continue
            phase_want = int(want(p) // 10 if p < 1 else len(pcts) - 1)
            phase_got = int(round(got[p] // 10))
            def not_shifted(q, pcts=pcts, bounds=bounds):
                i = max(k for k in range(len(pcts)) if q >= bounds[k] - 1e-12)
                return 10.0 * i + q / pcts[i]
            if p == 1.0 and all(_close(got[q], want(q)) for q in pos if q < 1.0):
                key = "sched_combine_end"
            elif all(_close(got[q], not_shifted(q)) for q in pos):
                key = "sched_combine_not_shifted"
            elif phase_got == phase_want and _close(got[p], 10.0 * phase_want + p):
                key = "sched_combine_not_rescaled"
            elif phase_got != phase_want:
                key = "sched_combine_misaligned"
            else:
                key = None
            fail(SUBJECT_S, f"{case}, pos={p:.4g}",
                 f"gives {got[p]:.6g}, expected {want(p):.6g} (phase {phase_want} at its own pos "
                 f"{want(p) - 10 * phase_want:.4g}).", key)
        n += 1
    passed(SUBJECT_S, n, " (sched_lin, sched_cos, combine_scheds)")


# ---------------------------------------------------------------------------------------------------------
# The callback.
class _FakeOpt:
    """Three parameter groups; ``step`` records every group's lr at that moment."""

    def __init__(self, params, lr):
        self.param_groups = [{"params": list(params), "lr": lr}, {"params": [], "lr": lr}, {"params": [], "lr": lr}]
        self.steps = []

    def step(self):
        self.steps.append([float(gr["lr"]) for gr in self.param_groups])

    def zero_grad(self):
        pass


class _Loader(list):
    pass


def _expected(sched, n_epochs, n_batches):
    total = n_epochs * n_batches
    return [sched(k / total) for k in range(total)]


def check_lr_callback(LRSchedulerCB, *, thorough: bool = False, seed: int | None = None):
    """Run ``LRSchedulerCB`` in a real Learner; compare the lrs each step used and ``cb.lrs`` with sched(pos)."""
    from normlab import Learner  # the course's own loop
    g = generator(0 if (seed is None and not thorough) else seed)
    cases = [(2, 5, 3, 0.5, 3.0), (3, 4, 2, 2.0, 0.1)]
    if thorough:
        for _ in range(3):
            e, b, v = (int(torch.randint(lo, hi, (1,), generator=g)) for lo, hi in ((1, 5), (2, 9), (1, 4)))
            lo, hi = (float(x) for x in torch.rand(2, generator=g, dtype=torch.float64) * 3 + 0.01)
            cases.append((e, b, v, lo, hi))
    for n_epochs, n_batches, n_valid, a, b in cases:
        def sched(pos, a=a, b=b):
            return a + (b - a) * float(pos) ** 0.5 if pos >= 0 else float("nan")
        case = f"{n_epochs} epochs of {n_batches} training and {n_valid} validation batches, sched {a:.3g} -> {b:.3g}"
        try:
            cb = LRSchedulerCB(sched)
        except Exception as e:  # noqa: BLE001
            fail(SUBJECT_CB, case, f"LRSchedulerCB(sched) raised {type(e).__name__}: {e}")
        x = torch.zeros(2, 1)
        dls = type("DLs", (), {})()
        dls.train = _Loader([(x, torch.zeros(2))] * n_batches)
        dls.valid = _Loader([(x, torch.zeros(2))] * n_valid)
        opt_holder = {}

        def opt_func(params, lr, holder=opt_holder):
            holder["opt"] = _FakeOpt(params, lr)
            return holder["opt"]
        learn = Learner(nn.Linear(1, 1), dls, loss_func=lambda preds, y: preds.sum(), lr=-7.0, cbs=[cb],
                        opt_func=opt_func)
        try:
            learn.fit(n_epochs)
        except CheckFailure:
            raise
        except Exception as e:  # noqa: BLE001
            fail(SUBJECT_CB, case, f"fitting with the callback raised {type(e).__name__}: {e}")
        steps = opt_holder["opt"].steps
        want = _expected(sched, n_epochs, n_batches)
        used = [s[0] for s in steps]
        models = {
            "sched_cb_after_step": [-7.0] + want[:-1],
            "sched_cb_per_epoch": [sched(k % n_batches / n_batches) for k in range(len(want))],
            "sched_cb_total_one_epoch": [sched(k / n_batches) for k in range(len(want))],
            "sched_cb_pos_off_by_one": [sched(k / (len(want) - 1)) if len(want) > 1 else math.nan
                                        for k in range(len(want))],
            "sched_cb_pos_off_by_one ": [sched((k + 1) / len(want)) for k in range(len(want))],
            "sched_cb_counts_valid": [sched(((k // n_batches) * (n_batches + n_valid) + k % n_batches)
                                            / (n_epochs * n_batches)) for k in range(len(want))],
            "sched_cb_counts_valid ": [sched(((k // n_batches) * (n_batches + n_valid) + k % n_batches)
                                             / (n_epochs * (n_batches + n_valid))) for k in range(len(want))],
        }
        if len(used) != len(want):
            fail(SUBJECT_CB, case, f"the optimizer stepped {len(used)} times, expected {len(want)}.")
        for k, (u, w) in enumerate(zip(used, want)):
            if not _close(u, w):
                key = next((m.strip() for m, vals in models.items()
                            if all(_close(p, q) for p, q in zip(used, vals))), None)
                fail(SUBJECT_CB, case, f"training batch {k} (of {len(want)}) was stepped with lr {u:.6g}"
                     f"{' (the lr the Learner started with, never changed)' if u == -7.0 else ''}; "
                     f"expected sched({k}/{len(want)}) = {w:.6g}.", key)
        for k, s in enumerate(steps):
            if not all(_close(v, s[0]) for v in s[1:]):
                fail(SUBJECT_CB, case, f"at training batch {k} the parameter groups have lrs {s}; all should "
                     f"be {s[0]:.6g}.", "sched_cb_first_group")
        last = [float(gr["lr"]) for gr in opt_holder["opt"].param_groups]
        if not all(_close(v, want[-1]) for v in last):
            fail(SUBJECT_CB, case, f"after the fit (validation included) the lrs are {last}; expected the last "
                 f"training lr {want[-1]:.6g} (validation batches must not change it).", "sched_cb_counts_valid")
        lrs = getattr(cb, "lrs", None)
        if lrs is None:
            fail(SUBJECT_CB, case, "the callback has no attribute 'lrs' recording the lr of every training batch.")
        rec = [_num(v, SUBJECT_CB, case, "cb.lrs entry") for v in lrs]
        if len(rec) != len(want) or not all(_close(p, q) for p, q in zip(rec, want)):
            fail(SUBJECT_CB, case, f"cb.lrs holds {len(rec)} values starting {rec[:3]}; expected the {len(want)} "
                 f"lrs set before each training batch, starting {want[:3]}.")
    passed(SUBJECT_CB, len(cases), " (lr of every parameter group at every optimizer step)")
