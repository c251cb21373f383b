"""Executing one submission: nbgrader's own ``autograde`` in a private scratch course, with the kernel in the box
of :mod:`autograder.sandbox`. :func:`execute` takes everything it needs as bytes and returns everything it
produced as bytes, so it runs the same in a local worker process (``python -m autograder.worker --serve``) or
on a ``dask.distributed`` worker on another machine: the executors of :mod:`autograder.executors`.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import traceback
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

@dataclass
class Limits:
    """Per-notebook limits. ``cell_seconds`` of 0 keeps ``Execute.timeout`` from ``nbgrader_config.py``."""

    wall_seconds: float = 600.0
    memory_mb: int = 4096
    output_bytes: int = 1_000_000
    file_mb: int = 100
    cell_seconds: int = 0
    sandbox: str = "bwrap"  # "none": limits without bwrap (a machine without it; says so in the summary)


def payload(root: Path, template: Path, staged: Path, lesson: str, student: str, limits: Limits) -> dict:
    """What a worker needs to execute one staged submission, as bytes: the lesson's scratch course (config,
    source, student-free gradebook) and the submission's files."""
    return {"lesson": lesson, "student": student, "limits": asdict(limits), "course_root": str(root),
            "course": _read_tree(template), "submission": _read_tree(staged)}


def _read_tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _write_tree(files: dict[str, bytes], folder: Path) -> None:
    for rel, data in files.items():
        path = folder / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise ValueError(f"{rel}: not a relative path")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def execute(job: dict) -> dict:
    """Execute one submission (a :func:`payload`) and return ``{"code", "log", "notebooks"}``: the exit status (0:
    nbgrader finished), the tail of nbgrader's log when it did not, and per notebook the executed notebook
    (JSON text) and its limits report (why it stopped, which cells a limit cut, how long the kernel ran).

    The kernel runs as a user of its own, unique on this machine while it runs (see :func:`_kernel_uid`)."""
    from .gradebook import nbgrader_api, pipeline
    from .sandbox import SandboxedExecute

    limits = Limits(**job["limits"])
    base = tempfile.gettempdir()
    scratch = Path(tempfile.mkdtemp(prefix=f"nlg-{os.getpid()}-w-",  # found and removed if this process is killed
                                    dir=base if os.path.isdir(base) else "/tmp"))  # (a stale TMPDIR)
    uid = _kernel_uid()
    try:
        course, submitted, executed = scratch / "course", scratch / "submitted", scratch / "executed"
        _write_tree(job["course"], course)
        _write_tree(job["submission"], submitted / job["student"] / job["lesson"])
        box = {"course_root": job.get("course_root") or str(course), "runtime_dir": str(course / "rt"),
               "uid": uid, "report_dir": str(executed), "wall_seconds": limits.wall_seconds,
               "memory_mb": limits.memory_mb, "output_bytes": limits.output_bytes, "file_mb": limits.file_mb,
               "sandbox": limits.sandbox}
        if limits.cell_seconds:
            box["timeout"] = limits.cell_seconds
        warnings.filterwarnings("ignore")
        api = nbgrader_api(course, {
            # the scratch course's own gradebook, the student-free SQLite copy, whatever the course's db_url says
            # (a PostgreSQL URL in nbgrader_config.py would otherwise send the worker to the real gradebook)
            "CourseDirectory": {"submitted_directory": str(submitted), "db_url": f"sqlite:///{course}/gradebook.db"},
            "Autograde": {"autograde_preprocessors": pipeline(SandboxedExecute)},
            "SandboxedExecute": box,
        })
        result = api.autograde(job["lesson"], job["student"], force=True, create=True)
        failed = not result.get("success")
        log = ((result.get("log") or "") + (result.get("error") or ""))[-3000:] if failed else ""
        out = {"code": int(failed), "notebooks": {}, "log": log}
        for report in sorted(executed.glob("*.limits.json")):
            name = report.name[: -len(".limits.json")]
            notebook = executed / f"{name}.ipynb"
            out["notebooks"][name] = {"limits": json.loads(report.read_text()),
                                      "executed": notebook.read_text() if notebook.exists() else None}
        return out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        with _uids_lock:
            _free_uids.add(uid - _uid_base())


_free_uids: set[int] = set(range(64))
_uids_lock = threading.Lock()


def _uid_base() -> int:
    from .sandbox import KERNEL_UID

    return KERNEL_UID + (os.getpid() << 6)


def _kernel_uid() -> int:
    """A user id no other kernel on this machine has now: ``KERNEL_UID`` + this process's id times 64 + a slot
    free in this process (a Dask worker may run several notebooks at once in threads). Process limits count per
    user, so a fork bomb in one kernel cannot starve another."""
    with _uids_lock:
        return _uid_base() + _free_uids.pop()


def _die_with_parent() -> None:
    """preexec for workers: die when the grader dies (a SIGKILLed grader leaves no workers behind)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def serve() -> int:
    """A persistent local worker: for each job file named on stdin (a pickled :func:`payload`), execute it, write
    the result beside it (``<file>.out``) and answer its exit status on stdout."""
    answer = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever nbgrader prints goes to the log, not into the answers
    for line in sys.stdin:
        path = Path(line.strip())
        try:
            result = execute(pickle.loads(path.read_bytes()))
        except Exception:  # noqa: BLE001 - reported to the grader, which records the reason
            result = {"code": 1, "notebooks": {}, "log": traceback.format_exc()[-3000:]}
        if result["code"]:
            print(result["log"], file=sys.stderr)
        path.with_name(path.name + ".out").write_bytes(pickle.dumps(result))
        sys.stderr.flush()
        answer.write(f"{result['code']}\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--serve":
        sys.exit(serve())
    sys.exit("usage: python -m autograder.worker --serve (internal; use python -m autograder grade)")
