"""How a failed check reads in Jupyter: the check's message, not the checker's stack.

IPython shows an exception through the exception's ``_render_traceback_()`` when it has one, and
``CheckFailure`` does. A learner needs the message -- the failing case, the largest error, the likely mistake
and its fix -- and, when the check caught an error raised by their own code (a ``NotImplementedError`` left in
a stub, a shape error in their layer), where in their code it came from. The checker's frames tell them
nothing, so they are left out. (IPython's other mechanism, ``__tracebackhide__ = True`` in a frame's locals,
would need that line in every function of every check, and never hides the frame that raised.)

nbgrader is unaffected: the kernel's error output keeps ``ename`` (``CheckFailure``) and ``evalue`` (the
message), which are what grading and feedback read.
"""

from __future__ import annotations

import os
import sysconfig
import types

# Every frame in the autograder package is the checker's (the checks, their references).
_CHECKER = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_LIBRARIES = tuple({os.path.abspath(sysconfig.get_paths()[k]) + os.sep for k in ("stdlib", "purelib", "platlib")})


def _file(tb: types.TracebackType) -> str:
    return os.path.abspath(tb.tb_frame.f_code.co_filename)


def learner_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """A copy of the traceback ``tb`` without the checker's frames, nor the library frames that lead from the
    checker to the learner's code (torch's ``Module.__call__``); None when nothing but the checker is left."""
    frames = []
    while tb is not None:
        if not _file(tb).startswith(_CHECKER):
            frames.append(tb)
        tb = tb.tb_next
    start = next((i for i, t in enumerate(frames) if not _file(t).startswith(_LIBRARIES)), 0)
    out = None
    for t in reversed(frames[start:]):
        out = types.TracebackType(out, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return out


def learner_error(failure: BaseException) -> BaseException | None:
    """The error the check caught from the learner's code and turned into ``failure``, if any: the first one in
    the chain of causes that is not itself a failed check and went through code outside the checker."""
    from ._core import CheckFailure

    err = failure.__cause__ or (None if failure.__suppress_context__ else failure.__context__)
    while err is not None:
        if not isinstance(err, CheckFailure) and learner_frames(err.__traceback__) is not None:
            return err
        err = err.__cause__ or err.__context__
    return None


def render(failure: BaseException) -> list[str]:
    """IPython's structured traceback for ``failure``: the learner's error, if any, cut to the learner's frames
    (and what they called), then the check's message, in the shell's own colours and traceback mode."""
    from IPython import get_ipython

    formatter = get_ipython().InteractiveTB
    message = formatter.get_exception_only(type(failure), failure)
    err = learner_error(failure)
    if err is None:
        return message
    tb = learner_frames(err.__traceback__)
    return [*formatter.structured_traceback(type(err), err, tb, tb_offset=0), "", *message]
