"""``python -m autograder grade``: grade a whole class in parallel, each notebook in a box, crash-safe.

How one submission (``submitted/<student>/<lesson>/``) is graded, each step in a module of its own:

1. **Stage** (:mod:`~autograder.submission`, main process): the submission is copied into a scratch folder --
   never modified in place. A student or lesson folder that is a link is refused; inside, only regular files
   are read (links, FIFOs, devices, names that are not UTF-8, files over nbgrader's ``max_file_size`` and the
   submission's own ``timestamp.txt`` are left out); each of the lesson's notebooks is checked (readable, a
   bounded number of cells, graded cells' metadata as in the source, no graded cell twice) and written anew.
   Each thing left out or mended is a reason with a code; the codes decide the submission's status. A
   submission's time comes only from the instructor (``grade --timestamps``).
2. **Execute** (:mod:`~autograder.worker`, in an executor of :mod:`~autograder.executors`: ``--jobs`` local
   worker processes, or the workers of a Dask cluster with ``--scheduler``): nbgrader's own ``autograde`` runs in
   a private scratch course (``nbgrader_config.py``, ``solutions/<lesson>`` and a student-free SQLite copy of
   the gradebook, all sent as bytes with the submission), with nbgrader's ``Execute`` step replaced by
   :class:`~autograder.sandbox.SandboxedExecute`: the kernel runs in ``bwrap`` as a user of its own under time,
   memory, file-size, process and output limits, in a fresh folder deleted unread when it ends. The executed
   notebooks (raw outputs) and their limit reports are the worker's only product.
3. **Record** (:mod:`~autograder.gradebook`, main process, one submission at a time -- the only writer of the
   gradebook): nbgrader's own ``autograde`` runs again on the staged submission against the real gradebook,
   with ``Execute`` replaced by a step that replays the worker's outputs. Every other step (sanitizing,
   restoring test cells, ignoring warnings, limiting output, saving grades, late penalties) is nbgrader's, so
   the gradebook ends up as a serial ``nbgrader autograde`` leaves it. Its ``autograded/`` folder is written
   beside the real one and renamed into place.
4. **Journal** (:mod:`~autograder.journal`): ``autograded/.journal/<lesson>/<student>.json`` is written last
   (atomically) with the status, the reasons and their codes, and fingerprints of the submission and of the
   lesson. A re-run skips a submission whose journal matches; anything interrupted before its journal is
   written is graded again from scratch, and re-grading overwrites (never adds to) the gradebook rows, so a
   killed run plus a re-run equals one clean run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from .course import CourseError, load_config, resolve, source_notebook, validate_source
from .gradebook import STAGING, STUDENT_TABLES, gradebook_snapshot, prepare_lesson, record, record_nothing, recorder
from .journal import JOURNAL, journal_path, lesson_fingerprint, read_journal, write_atomic
from .progress import bar as progress_bar
from .submission import Job, collect, fingerprint, read_timestamps, source_cells, stage, status_of
from .worker import Limits, payload

__all__ = ["Limits", "Summary", "grade", "gradebook_snapshot", "prepare_lesson", "read_journal", "STUDENT_TABLES"]


@dataclass
class Summary:
    jobs: list[Job]
    skipped: list[Job]
    seconds: float

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for job in self.jobs:
            row = out.setdefault(job.lesson, {"graded": 0, "failed": 0, "timed out": 0, "up to date": 0})
            row[job.status] += 1
        for job in self.skipped:
            out.setdefault(job.lesson, {"graded": 0, "failed": 0, "timed out": 0, "up to date": 0})["up to date"] += 1
        return out


def grade(root: Path, names: list[str] | None = None, jobs: int | None = None, force: bool = False,
          limits: Limits | None = None, log=print, progress: bool = True, students: list[str] | None = None,
          timestamps: Path | None = None, scheduler: str | None = None, client=None) -> Summary:
    """Grade every submission of the chosen lessons; see the module docstring for how.

    ``jobs`` worker processes on this machine execute the notebooks (default: one per core), or, with
    ``scheduler`` (a ``dask.distributed`` scheduler's address, e.g. ``tcp://10.0.0.5:8786``) or a ``client``
    already connected to one, the cluster's workers do.

    ``timestamps``: the instructor's CSV of submission times (columns ``student_id``, ``lesson``,
    ``timestamp``), e.g. from the LMS. It is the only source of a submission's time: a ``timestamp.txt``
    inside a submission was written by whoever made the submission and is ignored, so without this file no
    submission has a time (as in nbgrader without ``timestamp.txt``) and no late penalty applies."""
    limits = limits or Limits()
    if limits.sandbox == "bwrap" and not shutil.which("bwrap"):
        raise CourseError("bwrap (bubblewrap) is not installed: `apt-get install bubblewrap`, "
                          "or pass --no-sandbox to grade with limits only (untrusted code then runs unboxed)")
    chosen = resolve(root, names)
    for lesson in chosen:
        validate_source(source_notebook(root, lesson))
    warnings.filterwarnings("ignore", message=".*not in session.*")
    lock = _lock(root)
    times = read_timestamps(timestamps) if timestamps else {}  # malformed: a one-line error before anything runs
    start = time.perf_counter()
    all_jobs = [j for j in collect(root, chosen, log) if not students or j.student in students]
    lesson_fp = {lesson: lesson_fingerprint(root, lesson, limits) for lesson in chosen}
    todo, skipped = [], []
    for job in all_jobs:
        job.timestamp = times.get((job.student, job.lesson), "")
        try:
            job.fingerprint = hashlib.sha256((fingerprint(job.folder) + job.timestamp).encode()).hexdigest()
        except OSError as e:
            job.refused = job.refused or f"the submission cannot be read ({e.strerror or type(e).__name__})"
            job.fingerprint = "unreadable"
        done = read_journal(root, job.lesson, job.student)
        if (not force and done and done.get("fingerprint") == job.fingerprint
                and done.get("lesson_fingerprint") == lesson_fp[job.lesson]
                and (root / "autograded" / job.student / job.lesson).is_dir() == done.get("autograded", True)):
            skipped.append(job)
        else:
            todo.append(job)
    shutil.rmtree(root / "autograded" / STAGING, ignore_errors=True)
    jobs = max(1, jobs or os.cpu_count() or 1)
    if todo:
        from nbgrader.coursedir import CourseDirectory

        max_kb = CourseDirectory(config=load_config(root)).max_file_size
        _remove_abandoned_scratch()
        scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
        try:
            with _temporary_files_in(scratch / "tmp"):
                for lesson in sorted({j.lesson for j in todo}):
                    prepare_lesson(root, lesson, scratch / "tpl" / lesson, scratch)
                backstop = limits.wall_seconds + 120  # a worker enforces wall_seconds itself: this is for a stuck one
                if scheduler or client:
                    from .executors import DaskPool

                    executor = DaskPool(scheduler, 2 * backstop, client=client)  # jobs also wait there in a queue
                else:
                    from .executors import LocalPool

                    executor = LocalPool(min(jobs, len(todo)), scratch, backstop)
                _run(root, todo, executor, limits, scratch, max_kb, lesson_fp, progress)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.rmtree(root / "autograded" / STAGING, ignore_errors=True)
    summary = Summary(todo, skipped, time.perf_counter() - start)
    lock.close()
    _print_summary(summary, log, limits)
    return summary


SCRATCH_PREFIX = "nlg-"


@contextlib.contextmanager
def _temporary_files_in(folder: Path):
    """Temporary files of this process (nbgrader's alembic.ini, ...) go into ``folder``, part of the scratch
    folder, so a killed grader's leftovers are removed with it by the next run; local workers are given the same
    folder as their ``TMPDIR``. The environment is left alone: a process started meanwhile by something else (a
    Dask nanny restarting a worker) must not inherit a folder that is about to be deleted."""
    folder.mkdir()
    saved = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved


def _remove_abandoned_scratch() -> None:
    """Scratch folders (``nlg-<pid>-*``) of graders, workers and kernels killed before their clean-up: their
    process is gone. In the temporary folder, and in the short one that kernels' sockets may use."""
    from .sandbox import SHORT_DIR

    folders = {*Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*"), *Path(SHORT_DIR).glob(f"{SCRATCH_PREFIX}*-*")}
    for folder in folders:
        try:
            if folder.stat().st_uid != os.getuid():
                continue
            os.kill(int(folder.name[len(SCRATCH_PREFIX):].split("-")[0]), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):
            continue  # not ours, or its grader is alive


def _lock(root: Path):
    """One grader per course at a time (a second one would write the gradebook concurrently)."""
    import fcntl

    path = root / "autograded" / JOURNAL / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise CourseError(f"another `grade` is running on this course ({path} is locked)") from None
    return f


def _run(root, todo, executor, limits, scratch, max_kb, lesson_fp, progress) -> None:
    """Stage each submission, hand it to ``executor``, record each result as it comes back."""
    stage_dir = scratch / "stage"
    sources = {lesson: source_cells(root, lesson) for lesson in {job.lesson for job in todo}}
    bar = progress_bar(len(todo), progress, unit="notebook", desc="grading")
    book = recorder(root, stage_dir)
    pending, started = [], {}
    for job in todo:
        if job.refused:  # nothing of it is read: zero, with the reason
            job.note("refused", job.refused)
            _finish(root, job, None, time.monotonic(), stage_dir, lesson_fp, book, scratch)
            bar.update(1)
        else:
            pending.append(job)
    try:
        while pending or started:
            while pending and executor.free() > 0:
                job = pending.pop(0)
                staged = stage_dir / "submitted" / job.student / job.lesson
                stage(job, sources[job.lesson], staged, max_kb)
                executor.submit(id(job), payload(root, scratch / "tpl" / job.lesson, staged, job.lesson, job.student,
                                                 limits))
                started[id(job)] = (job, time.monotonic())
            time.sleep(0.02)
            for key, result, problem in executor.done():
                job, t0 = started.pop(key)
                if problem and not (problem[0] == "worker_failed" and job.codes & {"missing", "unreadable"}):
                    job.note(problem[0], _public(problem[1], scratch))
                if result and result["code"] and not job.codes & {"missing", "unreadable"}:
                    detail = (result["log"].strip().splitlines() or ["?"])[-1][:300]
                    job.note("worker_failed", _public(f"grader worker failed: {detail}", scratch))
                _finish(root, job, result, t0, stage_dir, lesson_fp, book, scratch)
                bar.update(1)
                bar.set_postfix_str(f"{job.student}/{job.lesson}: {job.status}")
    finally:
        executor.close()
        bar.close()


def _public(text: str, scratch: Path) -> str:
    """A reason as the instructor reads it: about the student's files, not the grader's scratch folders."""
    text = re.sub(re.escape(str(scratch)) + r"/(?:stage/submitted/)?", "", text)
    return re.sub(r"/\S*/nlg-[^/\s]+/\S*", "<grader scratch>", text)


def _finish(root, job, result, started, stage_dir, lesson_fp, book, scratch) -> None:
    """Record a submission whose execution has ended (or that was refused): gradebook, autograded/, journal."""
    executed = stage_dir / "executed" / job.student / job.lesson
    executed.mkdir(parents=True, exist_ok=True)
    for name, notebook in sorted((result or {}).get("notebooks", {}).items()):
        info = notebook["limits"]
        if notebook["executed"] is not None:
            (executed / f"{name}.ipynb").write_text(notebook["executed"])
        job.execute_seconds += info.get("execute_seconds", 0.0)
        if info.get("stopped"):
            job.note(info.get("code") or "kernel_died", f"{name}.ipynb: {info['stopped']}")
        for cell in info.get("cells", []):
            if cell["reason"] != info.get("stopped"):
                job.note(cell.get("code") or "kernel_died", f"{name}.ipynb cell {cell['cell']}: {cell['reason']}")
    job.worker_seconds = time.monotonic() - started
    t0 = time.monotonic()
    try:
        record(root, job, stage_dir, book, run=not job.refused)
    except Exception as e:  # noqa: BLE001 - whatever nbgrader makes of it, this submission gets zero and a reason
        job.note("record_failed", _public(f"recording failed ({str(e)[:300] or type(e).__name__}); scored zero",
                                          scratch))
        record_nothing(book, job)
        shutil.rmtree(root / "autograded" / job.student / job.lesson, ignore_errors=True)
    job.status = status_of(job.codes)
    job.record_seconds = time.monotonic() - t0
    job.seconds = time.monotonic() - started
    write_atomic(journal_path(root, job.lesson, job.student), json.dumps({
        "student": job.student, "lesson": job.lesson, "status": job.status, "reasons": job.reasons,
        "codes": sorted(job.codes), "fingerprint": job.fingerprint, "lesson_fingerprint": lesson_fp[job.lesson],
        "seconds": round(job.seconds, 2), "execute_seconds": round(job.execute_seconds, 2),
        "worker_seconds": round(job.worker_seconds, 2), "record_seconds": round(job.record_seconds, 2),
        "autograded": (root / "autograded" / job.student / job.lesson).is_dir()}, indent=1))
    shutil.rmtree(stage_dir / "submitted" / job.student / job.lesson, ignore_errors=True)
    shutil.rmtree(executed, ignore_errors=True)


def _print_summary(summary: Summary, log, limits: Limits) -> None:
    log(f"{'lesson':<22} {'graded':>7} {'failed':>7} {'timed out':>10} {'up to date':>11}")
    for lesson, row in sorted(summary.counts().items()):
        log(f"{lesson:<22} {row['graded']:>7} {row['failed']:>7} {row['timed out']:>10} {row['up to date']:>11}")
    n = len(summary.jobs)
    log(f"{n} notebook(s) graded in {summary.seconds:.1f} s" + (f" ({summary.seconds / n:.1f} s each)" if n else "")
        + ("" if limits.sandbox == "bwrap" else "  -- WITHOUT the bwrap sandbox"))
    for job in summary.jobs:
        if job.reasons:
            log(f"  {job.student}/{job.lesson} [{job.status}]: " + "; ".join(job.reasons))
