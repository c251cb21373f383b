"""The machinery every check shares: trusted primitives, tolerances, the mistake catalogue and diagnoses.

A check runs a learner's answer next to a reference on a table of cases. When a comparison fails it
raises ``AssertionError`` with a message for the learner: which case, what differed and by how much,
and -- when the answer behaves exactly like a known mistake -- the mistake's name and how to fix it.

Protection against an answer cell that patches the kernel: this module is imported by the setup cell of
every lesson, before any answer runs, and keeps its own references to the torch functions it needs
(``_TRUSTED``). Comparisons use only those, on plain ``torch.Tensor`` objects whose exact type is checked
first, so replacing ``torch.allclose``, ``torch.testing`` or giving a result a lying ``__eq__`` changes
nothing. What this cannot stop: an answer that patches these private references themselves, or C-level
torch functions, inside the same kernel. Hidden tests therefore also re-import the checks from disk
(``fresh_checks``) and the grader (``python -m autograder grade``) runs each submission in its own
sandboxed kernel, which is the real boundary.

An answer must also do its exercise itself: ``forbid_delegation`` and ``check_not_torch_layer`` (at the end of
this module) fail an answer that hands the work to torch's own implementation or to the course's reference.
"""

from __future__ import annotations

import linecache
import math
import os
import re
import sys
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import torch
from torch.overrides import TorchFunctionMode as _TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode as _TorchDispatchMode

# ---------------------------------------------------------------------------------------------------------
# Trusted primitives, captured at import time (before any answer cell can replace them).
_Tensor = torch.Tensor
_isinstance = isinstance
_type = type
_abs = torch.abs
_sub = torch.sub
_max = torch.max
_isfinite = torch.isfinite
_isnan = torch.isnan
_all = torch.all
_where = torch.where
_zeros_like = torch.zeros_like
_argmax = torch.argmax
_unravel = torch.unravel_index
_float64 = torch.float64
_Generator = torch.Generator
_randn = torch.randn


@dataclass(frozen=True)
class Tolerance:
    """How close two results must be: ``|a - e| <= atol + rtol * |e|`` element-wise."""

    rtol: float
    atol: float


# Tolerances, in one place. float32 normalization layers reduce over up to ~10^4 elements; a different
# but correct summation order (a Welford pass, E[x^2]-E[x]^2 in float64, einsum) moves results by a few
# ulps times sqrt(n), i.e. ~1e-6 relative; 1e-4 relative + 1e-5 absolute leaves a 10x margin while every
# catalogued mistake (eps misplaced, biased/unbiased variance with n <= 10^4, missing sqrt, ...) moves
# results by far more than that (the corpus in tests/ proves both sides). Gradients pass through one more
# reduction, hence 10x looser. float64 answers are compared 10^6 times tighter.
TOLERANCES: dict[tuple[torch.dtype, str], Tolerance] = {
    (torch.float32, "value"): Tolerance(rtol=1e-4, atol=1e-5),
    (torch.float32, "grad"): Tolerance(rtol=1e-3, atol=1e-4),
    (torch.float64, "value"): Tolerance(rtol=1e-9, atol=1e-10),
    (torch.float64, "grad"): Tolerance(rtol=1e-8, atol=1e-9),
}


def tolerance(dtype: torch.dtype, kind: str = "value") -> Tolerance:
    return TOLERANCES[(dtype if dtype == torch.float64 else torch.float32, kind)]


# ---------------------------------------------------------------------------------------------------------
# The catalogue of known mistakes.
@dataclass(frozen=True)
class Mistake:
    key: str
    layer: str
    name: str
    fix: str


CATALOGUE: dict[str, Mistake] = {}


def mistake(key: str, layer: str, name: str, fix: str) -> Mistake:
    """Register a known mistake. ``name`` says what the answer does; ``fix`` what to do instead."""
    if key in CATALOGUE and CATALOGUE[key] != Mistake(key, layer, name, fix):
        raise ValueError(f"mistake {key!r} registered twice with different texts")
    CATALOGUE[key] = Mistake(key, layer, name, fix)
    return CATALOGUE[key]


#: The MIME type of the diagnosis a failed check leaves in the notebook for ``python -m autograder report``.
DIAGNOSIS_MIME = "application/vnd.normlab.check+json"


class CheckFailure(AssertionError):
    """A failed check; ``mistake`` is the catalogue key when the failure was recognised, ``subject`` what was
    checked (as the message names it)."""

    def __init__(self, message: str, mistake: str | None = None, subject: str | None = None):
        super().__init__(message)
        self.mistake = mistake
        self.subject = subject

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for this failure: the message without the checker's frames (see ``_traceback``).
        Never raises: where rendering fails, IPython would send no error output at all, only a note on stderr.

        IPython calls this when the failure ends a cell -- not for the failures a check catches itself and
        retries or re-raises under another diagnosis -- so it is where the diagnosis is published; once, as
        IPython calls it again to store the traceback in its history."""
        if not self.__dict__.get("_published"):
            self._published = True
            publish_diagnosis(self)
        try:
            from ._traceback import render

            return render(self)
        except Exception:  # noqa: BLE001 - any problem here must still show the failure
            return [f"{type(self).__name__}: {self}"]


def publish_diagnosis(failure: CheckFailure) -> None:
    """Leave ``{"mistake": key or null, "subject": ...}`` in the cell as a display_data output of type
    ``DIAGNOSIS_MIME`` only: nbgrader keeps it in the graded notebook, where ``python -m autograder report``
    counts the catalogue keys. No text/plain fallback: JupyterLab has no renderer for the type and shows nothing
    (nbconvert's HTML shows nothing either), so the learner sees the failure once, as before. Grading reads only
    error and stderr outputs, so this changes no score. Outside IPython it does nothing."""
    try:
        ipython = sys.modules.get("IPython")
        if ipython is None or ipython.get_ipython() is None:
            return
        from IPython.display import publish_display_data

        publish_display_data({DIAGNOSIS_MIME: {"mistake": failure.mistake, "subject": failure.subject}})
    except Exception:  # noqa: BLE001 - the report loses one diagnosis; the learner's failure still shows
        pass


def fail(subject: str, case: str, problem: str, mistake_key: str | None = None,
         cause: BaseException | None = None) -> None:
    """Raise a learner-facing failure: ``<subject>, case <case>: <problem>`` plus the diagnosis if any.

    ``cause``: the learner's exception that the failure reports, when it was caught earlier (inside an
    ``except`` block Python links it by itself); Jupyter then shows where in their code it was raised.
    """
    lines = [f"{subject}, case [{case}]: {problem}"]
    if mistake_key is not None:
        m = CATALOGUE[mistake_key]
        lines.append(f"Likely mistake: {m.name}. Fix: {m.fix}")
    failure = CheckFailure("\n".join(lines), mistake_key, subject)
    if cause is not None:
        failure.__cause__ = cause  # as `raise ... from cause`; assigning None would hide an implicit context
    raise failure


# ---------------------------------------------------------------------------------------------------------
# Comparisons.
def as_plain_tensor(value, what: str, subject: str, case: str) -> torch.Tensor:
    """Accept only a real ``torch.Tensor`` (exact type), so a lying subclass or object cannot pass."""
    if _type(value) is not _Tensor and _type(value) is not torch.nn.Parameter:
        fail(subject, case, f"{what} should be a torch.Tensor, got {_type(value).__name__}.")
    return value


def max_error(actual: torch.Tensor, expected: torch.Tensor) -> tuple[float, tuple[int, ...]]:
    """Largest absolute difference and where it is (NaN/inf count as infinitely wrong)."""
    a = actual.detach().to("cpu", _float64)
    e = expected.detach().to("cpu", _float64)
    diff = _abs(_sub(a, e))
    bad = ~(_isfinite(a) & _isfinite(e)) & (a != e)
    diff = _where(bad, _zeros_like(diff) + math.inf, diff)
    if diff.numel() == 0:
        return 0.0, ()
    flat = int(_argmax(diff.reshape(-1)))
    where = tuple(int(i) for i in _unravel(torch.tensor(flat), diff.shape)) if diff.dim() else ()
    return float(diff.reshape(-1)[flat]), where


def close(actual: torch.Tensor, expected: torch.Tensor, tol: Tolerance) -> bool:
    """``actual`` and ``expected`` agree element-wise within ``tol`` (shapes must match exactly)."""
    if tuple(actual.shape) != tuple(expected.shape):
        return False
    a = actual.detach().to("cpu", _float64)
    e = expected.detach().to("cpu", _float64)
    if a.numel() == 0:
        return True
    same_nonfinite = (~_isfinite(e)) & (a == e)
    ok = (_abs(_sub(a, e)) <= tol.atol + tol.rtol * _abs(e)) | same_nonfinite
    return bool(_all(ok))


def explains(actual: torch.Tensor, candidate: torch.Tensor, expected: torch.Tensor | None, tol: Tolerance) -> bool:
    """``candidate`` (what a known mistake computes) reproduces ``actual`` element by element, and is not the
    reference's result ``expected`` (a mistake that changes nothing in this case is never named).

    Every element must agree within ``tol``, its absolute part scaled by the candidate's typical magnitude
    (root mean square, at least 1): a mistake can make some values huge (dividing by a variance of 1e-4), and a
    float32 answer then carries rounding errors of that scale in its small values too. Non-finite values must
    be the same (NaN where the candidate has NaN)."""
    if candidate is None or tuple(candidate.shape) != tuple(actual.shape):
        return False
    a = actual.detach().to("cpu", _float64)
    c = candidate.detach().to("cpu", _float64)
    if c.numel() == 0:
        return False
    finite = _isfinite(c)
    if not bool(finite.any()):  # a candidate with no finite value explains nothing
        return False
    if not bool(_all((finite & _isfinite(a)) | (a == c) | (_isnan(a) & _isnan(c)))):
        return False
    a, c = _where(finite, a, _zeros_like(a)), _where(finite, c, _zeros_like(c))
    scale = max(1.0, float((c * c).mean().sqrt()))
    if not bool(_all(_abs(_sub(a, c)) <= tol.atol * scale + tol.rtol * _abs(c))):
        return False
    return expected is None or not close(candidate.to(expected.dtype) if candidate.is_floating_point() and
                                         expected.is_floating_point() else candidate, expected, tol)


def compare(
    actual,
    expected: torch.Tensor,
    *,
    subject: str,
    case: str,
    what: str,
    kind: str = "value",
    mistakes: Mapping[str, Callable[[], torch.Tensor | list]] | None = None,
    family: Callable[[], tuple[str, str] | None] | None = None,
    lenient: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], bool] | None = None,
) -> None:
    """Assert ``actual`` matches ``expected``; on failure, name the known mistake it matches (``_match``).

    ``mistakes`` maps a catalogue key to a function computing what an answer with that mistake would return
    for this very case (a tensor, or a list of tensors for a mistake with several forms); ``family`` returns
    ``(key, description)`` of the near miss of the layer's family that the answer reproduces (``_families``),
    or None. Both are only evaluated after a mismatch.
    """
    actual = as_plain_tensor(actual, what, subject, case)
    if tuple(actual.shape) != tuple(expected.shape):
        key, detail = _match(actual, expected, kind, mistakes, family, lenient)
        fail(subject, case, f"{what} has shape {tuple(actual.shape)}, expected {tuple(expected.shape)}.{detail}",
             key)
    if actual.dtype != expected.dtype:
        fail(subject, case, f"{what} has dtype {actual.dtype}, expected {expected.dtype}.")
    if actual.device.type != expected.device.type:
        fail(subject, case, f"{what} is on {actual.device.type}, expected {expected.device.type} (the input's device).")
    tol = tolerance(expected.dtype, kind)
    if close(actual, expected, tol):
        return
    err, where = max_error(actual, expected)
    key, detail = _match(actual, expected, kind, mistakes, family, lenient)
    at = f" at index {where}" if where else ""
    fail(subject, case, f"{what} differs from the reference: largest error {err:.3g}{at} "
         f"(tolerance {tol.atol:g} + {tol.rtol:g}*|expected|).{detail}", key)


def _candidates(model) -> list:
    try:
        found = model()
    except Exception:  # a mistake model that does not apply to this case
        return []
    return [found] if _isinstance(found, _Tensor) else [c for c in (found or []) if _isinstance(c, _Tensor)]


def _match(actual, expected, kind, mistakes, family=None, lenient=None) -> tuple[str | None, str]:
    """``(key, detail)`` of the mistake ``actual`` shows, ``(None, "")`` when none is recognised.

    In order: the first catalogued mistake whose model reproduces ``actual`` element by element (``explains``;
    the models' order breaks ties between mistakes that coincide in a case); then the layer's family of near
    misses (the detail says which computation was recognised); then, for an answer that misses the tolerance by
    a hair while a model passes it by a hair, a model far closer to the answer than the reference is (or, given
    ``lenient(actual, candidate, expected)``, one that it accepts)."""
    tol = tolerance(expected.dtype, kind)
    evaluated = []
    for key, model in (mistakes or {}).items():
        candidates = [c.to(actual.device, actual.dtype) if c.is_floating_point() and actual.is_floating_point()
                      else c for c in _candidates(model)]
        evaluated.append((key, candidates))
        if any(explains(actual, c, expected, tol) for c in candidates):
            return key, ""
    if family is not None:
        try:
            found = family()
        except Exception:  # noqa: BLE001 - a family that cannot describe this case names nothing
            found = None
        if found is not None:
            key, description = found
            return key, f" Your result matches {description}."
    for key, candidates in evaluated:
        for wrong in candidates:
            if tuple(wrong.shape) != tuple(actual.shape):
                continue
            if lenient is not None:
                if lenient(actual, wrong, expected):
                    return key, ""
                continue
            # An answer that misses the tolerance by a hair while the mistake's model passes it by a hair:
            # still that mistake when the answer is far closer to the model than to the reference.
            if tuple(wrong.shape) == tuple(expected.shape) and \
                    max_error(actual, wrong)[0] < 0.1 * max_error(actual, expected)[0]:
                return key, ""
    return None, ""


def passed(subject: str, n_cases: int, extra: str = "") -> None:
    """Tell the learner what was checked (stdout: nbgrader scores stderr output as a failure)."""
    print(f"✓ {subject}: all {n_cases} cases passed{extra}.")


def devices() -> list[torch.device]:
    """CPU always; CUDA too when present (with TF32 off, see ``no_tf32``)."""
    out = [torch.device("cpu")]
    if torch.cuda.is_available():
        out.append(torch.device("cuda"))
    return out


class no_tf32:
    """Disable TF32 matmuls/convolutions while comparing on CUDA (TF32 rounds to 10 mantissa bits)."""

    def __enter__(self):
        self._saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    def __exit__(self, *exc):
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = self._saved
        return False


def generator(seed: int | None) -> torch.Generator:
    """A private RNG: hidden checks use fresh seeds (``seed=None``) so answers cannot be tuned to inputs."""
    g = _Generator()
    if seed is None:
        g.seed()  # fresh entropy for this generator only; the learner's global RNG is left alone
    else:
        g.manual_seed(seed)
    return g


def randn(shape: Iterable[int], g: torch.Generator, dtype=torch.float32, device="cpu", scale=1.0, shift=0.0):
    """Random normal input with a non-trivial mean and scale (zero-mean unit inputs hide many mistakes)."""
    x = _randn(tuple(shape), generator=g, dtype=_float64) * scale + shift
    return x.to(device=device, dtype=dtype)


def construct(cls, subject: str, case: str, *args, **kwargs):
    """Instantiate the learner's class, turning a crash into a message that says which arguments were used."""
    try:
        return cls(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - any exception is the answer's, report it
        call = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
        fail(subject, case, f"{cls.__name__}({call}) raised {type(e).__name__}: {e}")


def call(fn, subject: str, case: str, what: str, *args, **kwargs):
    """Run the learner's code; an exception becomes a failure naming the case (not a bare traceback)."""
    try:
        return fn(*args, **kwargs)
    except CheckFailure:
        raise
    except Exception as e:  # noqa: BLE001
        fail(subject, case, f"{what} raised {type(e).__name__}: {e}")


# ---------------------------------------------------------------------------------------------------------
# Written by hand means written by hand: an answer that hands its exercise to torch's own implementation (a
# norm function or kernel, a torch norm layer as base class or held inside) or to the course's references
# scores zero on that exercise, with a message saying so. It is detected by what the answer *does* while the
# check runs it, not by reading its source: each call into the learner's code runs inside
# ``forbid_delegation``, which records
#   * torch functions whose name is a normalization (``F.batch_norm``, ``torch.layer_norm``, ``F.rms_norm``,
#     ``torch.ops.aten.native_group_norm``, ...), through a ``TorchFunctionMode``;
#   * aten operators that are normalization kernels (``aten::native_batch_norm``, its backward,
#     ``_native_batch_norm_legit*``, ``native_layer_norm``, ``native_group_norm``, ``cudnn_batch_norm``, ...)
#     however they were reached (TorchScript, a C++ extension of torch), through a ``TorchDispatchMode``;
#   * Python calls into the course's references (``autograder/references``) or torch's BN folding
#     (``torch/nn/utils/fusion.py``), through ``sys.setprofile``, in the checks of the exercises they do;
# and ``check_not_torch_layer`` rejects a class that derives from, or a module that holds, a torch norm layer
# or a reference. Honest arithmetic (mean, var, var_mean, sqrt, rsqrt, sum, einsum, ...) triggers none of
# these (tests/test_delegation.py proves both sides). The detection costs a few microseconds per aten
# operator run inside the window (the dispatch mode; the function mode is nearly free); the checks open
# windows only around the learner's own code, never around their references.
_NORM_NAME = re.compile(r"(batch|layer|group|instance|rms)_norm")
_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep
_CHECKS_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_REFERENCES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "references") + os.sep
_FunctionMode = _TorchFunctionMode
_DispatchMode = _TorchDispatchMode
_setprofile, _getprofile, _getframe = sys.setprofile, sys.getprofile, sys._getframe
_issubclass = issubclass
_named_modules = torch.nn.Module.named_modules


@dataclass(frozen=True)
class _Rules:
    """What counts as delegation (one object, so that the tests can swap it to prove the checks coherent)."""

    layers: tuple  # classes an answer may neither derive from nor hold
    names: re.Pattern  # torch function and aten operator names that are normalizations
    files: frozenset  # source files of Python code an answer may not run (compared with co_filename)
    prefixes: tuple  # folders of such files
    verdicts: dict  # cache: torch function or aten operator -> its label when forbidden, else None


def _default_rules() -> _Rules:
    from torch.nn.utils import fusion

    layers = (torch.nn.modules.batchnorm._NormBase, torch.nn.LayerNorm, torch.nn.GroupNorm,
              getattr(torch.nn, "RMSNorm", torch.nn.LayerNorm))
    try:  # a copy of the course without the references (what learners receive) has nothing of them to forbid
        from ..references.running_batchnorm import RunningBatchNorm as Reference
    except ImportError:
        Reference = None
    if Reference is not None:
        layers += (Reference,)
    fusion_file = fusion.__file__
    return _Rules(layers, _NORM_NAME, frozenset({fusion_file, os.path.abspath(fusion_file)}),
                  (_REFERENCES_DIR,), {})


_RULES = _default_rules()


def _torch_label(func) -> str | None:
    """``func``'s public name when it is a normalization (``torch.nn.functional.batch_norm``), else None."""
    try:
        return _RULES.verdicts[func]
    except (KeyError, TypeError):
        pass
    if _isinstance(func, torch._ops.OpOverload):
        name = func.name()  # "aten::native_batch_norm"
        label = f"torch.ops.{name.replace('::', '.')}" if _RULES.names.search(name) else None
    else:
        name = getattr(func, "__name__", None) or ""
        module = getattr(func, "__module__", None) or "torch"
        if module.startswith("torch._ops."):
            module = "torch.ops." + module[len("torch._ops."):]
        label = f"{module}.{name}" if _type(name) is str and _RULES.names.search(name) else None
    try:
        _RULES.verdicts[func] = label
    except TypeError:  # an unhashable callable: not cached
        pass
    return label


def _learner_line(frame) -> str:
    """`` (in forward: `return F.batch_norm(...)`)`` for the innermost frame outside torch and the checker."""
    skip = (_TORCH_DIR, _CHECKS_DIR) + _RULES.prefixes
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(skip) and not filename.startswith("<frozen"):
            text = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
            return f" (in {frame.f_code.co_name}: `{text}`)" if text else f" (in {frame.f_code.co_name})"
        frame = frame.f_back
    return ""


class _Spy:
    """Runs each torch function (or aten operator) it sees, telling ``guard`` about normalizations (``what``
    says how: "calls", "runs torch's normalization kernel")."""

    what = ""

    def __init__(self, guard):
        super().__init__()
        self.guard = guard

    def _run(self, func, args, kwargs):
        label = _torch_label(func)
        if label is not None:
            self.guard.record(f"{self.what} {label}", _getframe(2))
        return func(*args, **(kwargs or {}))


class _FunctionSpy(_Spy, _FunctionMode):
    what = "calls"

    def __torch_function__(self, func, types, args=(), kwargs=None):
        return self._run(func, args, kwargs)


class _DispatchSpy(_Spy, _DispatchMode):
    what = "runs torch's normalization kernel"

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Otherwise torch wraps __torch_dispatch__ in torch._dynamo.disable, whose first call imports dynamo,
        # inductor and sympy (seconds, in a visible check) and whose every call costs a few microseconds.
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return self._run(func, args, kwargs)


class forbid_delegation:
    """Run the learner's code (the ``with`` body) and fail with ``mistake_key`` if it delegated (see above).

    The failure comes when the body ends, whatever the body did (an answer that catches exceptions cannot hide
    a call), and replaces any error of the body: delegation is what the learner must hear about first. ``who``
    names the answer in the message ("your BatchNorm2d").

    ``python_calls``: also watch Python calls into the references and torch's fusion (``sys.setprofile``), for
    the exercises they could do (``RunningBatchNorm``, the fold); elsewhere the class checks suffice and the
    profiler, which doubles the cost of the modes, is not paid. A Python profiler already installed (a
    debugger's) is left alone; those calls are then not seen, everything else still is.
    """

    def __init__(self, subject: str, case: str, mistake_key: str, who: str, *, python_calls: bool = False):
        self.subject, self.case, self.mistake_key, self.who = subject, case, mistake_key, who
        self.python_calls = python_calls
        self.found: str | None = None

    def record(self, what: str, frame) -> None:
        if self.found is None:
            self.found = what + _learner_line(frame)

    def _profile(self, frame, event, arg):
        if event == "call" and self.found is None:
            filename = frame.f_code.co_filename
            if filename in _RULES.files or filename.startswith(_RULES.prefixes):
                where = "torch.nn.utils.fusion" if filename in _RULES.files else "the course's reference"
                self.record(f"runs {where} ({frame.f_code.co_qualname})", frame.f_back)

    def __enter__(self):
        self.found = None
        self._modes = (_FunctionSpy(self), _DispatchSpy(self))
        self._modes[0].__enter__()
        try:
            self._modes[1].__enter__()
        except BaseException:
            self._modes[0].__exit__(None, None, None)
            raise
        self._profiling = self.python_calls and _getprofile() is None
        if self._profiling:
            _setprofile(self._profile)
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._profiling:
            _setprofile(None)
        self._modes[1].__exit__(exc_type, exc, tb)
        self._modes[0].__exit__(exc_type, exc, tb)
        if self.found is not None:
            delegated(self.subject, self.case, f"{self.who} {self.found}", self.mistake_key)
        return False


def delegated(subject: str, case: str, problem: str, mistake_key: str) -> None:
    """Raise the delegation failure, unlinked from whatever error the learner's code was raising."""
    try:
        fail(subject, case, f"{problem}. This exercise is to write that computation by hand, so it scores "
             "zero while torch's implementation (or the course's reference) does the work.", mistake_key)
    except CheckFailure as failure:
        failure.__suppress_context__ = True
        raise failure from None


def _layer_name(cls) -> str:
    name = getattr(cls, "__name__", "")
    if getattr(torch.nn, name, None) is cls:
        return f"torch.nn.{name}"
    if cls.__module__.startswith("autograder.references") and cls in _RULES.layers:
        return f"autograder.references.{name} (the course's reference)"
    return f"{cls.__module__}.{cls.__qualname__}"


def check_not_torch_layer(answer, subject: str, case: str, mistake_key: str, who: str) -> None:
    """Fail when the answer class derives from a torch norm layer (or a reference), or when the answer module
    holds one among its submodules: either way torch's layer, not the learner's code, computes the result."""
    forbidden = _RULES.layers
    if not forbidden:
        return
    if _isinstance(answer, type):
        if _issubclass(answer, forbidden):
            # the first class of torch's (or the course's) in the answer's ancestry: nn.BatchNorm2d, not _NormBase
            mro = [k for k in answer.__mro__ if _issubclass(k, forbidden)]
            base = next((k for k in mro if k.__module__.startswith(("torch.", "autograder."))), mro[-1])
            delegated(subject, case, f"{who} is a subclass of {_layer_name(base)}", mistake_key)
        return
    if not _isinstance(answer, torch.nn.Module):
        return
    for name, module in _named_modules(answer):
        if _isinstance(module, forbidden):
            holder = f"is an instance of {_layer_name(_type(module))}" if not name else \
                f"holds an instance of {_layer_name(_type(module))} (self.{name})"
            delegated(subject, case, f"{who} {holder}", mistake_key)


def delegation_mistake(key: str, layer: str, fix: str) -> Mistake:
    """Register the delegation mistake of one exercise (the name is shared, the fix says what to write)."""
    return mistake(key, layer, "hands the work to torch's own implementation (or the course's reference) "
                   "instead of writing it by hand", fix)
