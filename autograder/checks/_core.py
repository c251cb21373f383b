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
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import torch

# ---------------------------------------------------------------------------------------------------------
# Trusted primitives, captured at import time (before any answer cell can replace them).
_Tensor = torch.Tensor
_isinstance = isinstance
_type = type
_abs = torch.abs
_sub = torch.sub
_max = torch.max
_isfinite = torch.isfinite
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


def compare(
    actual,
    expected: torch.Tensor,
    *,
    subject: str,
    case: str,
    what: str,
    kind: str = "value",
    mistakes: Mapping[str, Callable[[], torch.Tensor]] | None = None,
) -> None:
    """Assert ``actual`` matches ``expected``; on failure, name the first known mistake it matches.

    ``mistakes`` maps a catalogue key to a function computing what an answer with that mistake would
    return for this very case; they are only evaluated after a mismatch.
    """
    actual = as_plain_tensor(actual, what, subject, case)
    if tuple(actual.shape) != tuple(expected.shape):
        key = _match(actual, expected, kind, mistakes)
        fail(subject, case, f"{what} has shape {tuple(actual.shape)}, expected {tuple(expected.shape)}.", key)
    if actual.dtype != expected.dtype:
        fail(subject, case, f"{what} has dtype {actual.dtype}, expected {expected.dtype}.")
    if actual.device.type != expected.device.type:
        fail(subject, case, f"{what} is on {actual.device.type}, expected {expected.device.type} (the input's device).")
    tol = tolerance(expected.dtype, kind)
    if close(actual, expected, tol):
        return
    err, where = max_error(actual, expected)
    key = _match(actual, expected, kind, mistakes)
    at = f" at index {where}" if where else ""
    fail(subject, case, f"{what} differs from the reference: largest error {err:.3g}{at} "
         f"(tolerance {tol.atol:g} + {tol.rtol:g}*|expected|).", key)


def _match(actual, expected, kind, mistakes) -> str | None:
    for key, mistaken in (mistakes or {}).items():
        try:
            wrong = mistaken()
        except Exception:  # a mistake model that does not apply to this case
            continue
        if wrong is None or tuple(wrong.shape) != tuple(actual.shape):
            continue
        wrong = wrong.to(actual.device, actual.dtype) if wrong.is_floating_point() else wrong
        tol = tolerance(expected.dtype, kind)
        if close(actual, wrong, tol) and not close(wrong, expected, tol):
            return key
        # An answer that misses the tolerance by a hair while the mistake's model passes it by a hair:
        # still that mistake when the answer is far closer to the model than to the reference.
        if max_error(actual, wrong)[0] < 0.1 * max_error(actual, expected)[0]:
            return key
    return None


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
