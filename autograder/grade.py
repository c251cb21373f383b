"""``python -m autograder grade``: grade a whole class in parallel, each notebook in a box, crash-safe.

How one submission (``submitted/<student>/<lesson>/``) is graded:

1. **Stage** (parent): the submission is copied into a scratch folder -- never modified in place. A student
   or lesson folder that is a link is refused; inside, only regular files are read (links, FIFOs, devices,
   names that are not UTF-8, files over nbgrader's ``max_file_size`` and the submission's own
   ``timestamp.txt`` are left out); each of the lesson's notebooks is checked (readable, a bounded number of
   cells, graded cells' metadata as in the source, no graded cell twice) and written anew; each thing left
   out or mended is a reason with a code, and the codes decide the submission's status (:data:`STATUS_OF`).
   A submission's time comes only from the instructor (``grade --timestamps``).
2. **Execute** (worker process, ``--jobs`` of them at once): nbgrader's own ``autograde`` runs in a private
   scratch course (a copy of ``nbgrader_config.py``, ``solutions/<lesson>`` and a gradebook holding only
   the lesson), with nbgrader's ``Execute`` step replaced by :class:`~autograder.sandbox.SandboxedExecute`:
   the kernel runs in ``bwrap`` as a user of its own under time, memory, file-size, process and output
   limits, in a fresh folder that is deleted unread when it ends (see :mod:`autograder.sandbox`). The executed
   notebook (raw outputs) is the worker's only product; its scratch gradebook is thrown away.
3. **Record** (parent, one submission at a time -- the only writer of ``gradebook.db``): nbgrader's own
   ``autograde`` runs again on the staged submission against the real gradebook, with ``Execute`` replaced
   by :class:`ReplayExecute`, which takes the outputs from step 2 instead of running anything. Every other
   step (sanitizing, restoring test cells, ignoring warnings, limiting output, saving grades, late
   penalties) is nbgrader's, so the gradebook ends up as a serial ``nbgrader autograde`` leaves it.
   Its ``autograded/`` folder is written beside the real one and renamed into place.
4. **Journal**: ``autograded/.journal/<lesson>/<student>.json`` is written last (atomically) with the
   status, the reasons and fingerprints of the submission and of the lesson. A re-run skips a submission
   whose journal matches; anything interrupted before its journal is written is graded again from scratch,
   and re-grading overwrites (never adds to) the gradebook rows, so a killed run plus a re-run equals one
   clean run.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .course import CONFIG_FILE, SOURCE, CourseError, load_config, resolve, source_notebook, validate_source
from .progress import bar as progress_bar

JOURNAL = ".journal"
STAGING = ".staging"


@dataclass
class Limits:
    """Per-notebook limits. ``cell_seconds`` of 0 keeps ``Execute.timeout`` from ``nbgrader_config.py``."""

    wall_seconds: float = 600.0
    memory_mb: int = 4096
    output_bytes: int = 1_000_000
    file_mb: int = 100
    cell_seconds: int = 0
    sandbox: str = "bwrap"  # "none": limits without bwrap (a machine without it; says so in the summary)


@dataclass
class Job:
    lesson: str
    student: str
    folder: Path
    fingerprint: str = ""
    status: str = ""
    reasons: list[str] = field(default_factory=list)
    codes: set[str] = field(default_factory=set)  # what happened, as codes (see STATUS_OF)
    refused: str = ""  # why the submission cannot be read at all (a link, a name that is not UTF-8, ...)
    tampered: dict[str, list[str]] = field(default_factory=dict)  # notebook -> graded cells whose metadata changed
    timestamp: str = ""  # from the instructor's --timestamps file, never from the submission
    seconds: float = 0.0  # from launching its worker to its journal entry
    execute_seconds: float = 0.0  # of which the kernel ran the notebook
    worker_seconds: float = 0.0  # until its worker was seen to finish
    record_seconds: float = 0.0  # writing it into the gradebook and autograded/

    def note(self, code: str, text: str) -> None:
        """Record what happened to this submission: ``text`` for people, ``code`` for deciding its status."""
        self.codes.add(code)
        self.reasons.append(text)


#: Status of a submission from the codes of what happened to it: the first status whose codes it has (a
#: code not listed, e.g. ``link`` or ``extra_notebook``, leaves it "graded").
STATUS_OF = (
    ("timed out", {"time_limit", "worker_killed"}),
    ("failed", {"refused", "missing", "unreadable", "too_many_cells", "output_limit", "memory_limit",
                "kernel_died", "worker_failed", "record_failed"}),
)


def status_of(codes: set[str]) -> str:
    return next((status for status, which in STATUS_OF if codes & which), "graded")


# ----------------------------------------------------------------------------------------------- collecting

def collect(root: Path, lessons: list[str], log=print) -> list[Job]:
    """Every ``submitted/<student>/<lesson>/`` for the chosen lessons, in a stable order.

    A student or lesson folder that is a symbolic link is refused (it would grade another folder as this
    student's); a student folder whose name is not valid UTF-8 cannot be a gradebook id and is skipped with one
    line to the instructor. Either affects that submission only."""
    submitted = root / "submitted"
    jobs = []
    if not submitted.is_dir():
        return jobs
    for entry in sorted(os.scandir(submitted), key=lambda e: os.fsencode(e.name)):
        student = entry.name
        if student.startswith(".") or not (entry.is_dir() or entry.is_symlink()):
            continue
        if not _utf8(student):
            log(f"skipped submitted/{student.encode(errors='surrogateescape')!r}: a folder name that is not valid "
                "UTF-8 cannot be a student id; rename it")
            continue
        for lesson in lessons:
            folder = submitted / student / lesson
            if not (folder.is_symlink() or folder.is_dir()):
                continue
            job = Job(lesson, student, folder)
            if entry.is_symlink():
                job.refused = f"submitted/{student} is a symbolic link; not graded"
            elif folder.is_symlink():
                job.refused = f"submitted/{student}/{lesson} is a symbolic link; not graded"
            jobs.append(job)
    return jobs


def _utf8(name: str) -> bool:
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def fingerprint(folder: Path) -> str:
    """What the submission is: names, sizes and contents (big files by size and modification time). Never
    follows a link, and takes any file name (names are hashed as bytes)."""
    h = hashlib.sha256()
    if folder.is_symlink():
        h.update(b"link\0" + os.fsencode(os.readlink(folder)))
        return h.hexdigest()
    for path in sorted((p for p in folder.rglob("*") if p.is_file() or p.is_symlink()), key=os.fsencode):
        st = path.lstat()
        h.update(os.fsencode(path.relative_to(folder)) + f"\0{st.st_size}\0".encode())
        if path.is_symlink():
            h.update(os.fsencode(os.readlink(path)))
        elif st.st_size <= 64 << 20:
            h.update(hashlib.sha256(path.read_bytes()).digest())
        else:
            h.update(str(st.st_mtime_ns).encode())
    return h.hexdigest()


def lesson_fingerprint(root: Path, lesson: str, limits: Limits) -> str:
    """What grading depends on besides the submission: the lesson source, the config, the limits."""
    h = hashlib.sha256()
    for path in sorted((root / SOURCE / lesson).rglob("*")):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts:
            h.update(str(path.relative_to(root)).encode() + hashlib.sha256(path.read_bytes()).digest())
    h.update((root / CONFIG_FILE).read_bytes())
    h.update(json.dumps(asdict(limits), sort_keys=True).encode())
    return h.hexdigest()


def read_timestamps(path: Path) -> dict[tuple[str, str], str]:
    """(student_id, lesson) -> submission time, from the instructor's CSV (``student_id,lesson,timestamp``;
    any time nbgrader parses, e.g. ``2026-12-03 17:05:00 UTC``). A malformed file is a one-line CourseError."""
    import csv

    from nbgrader.utils import parse_utc

    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CourseError(f"--timestamps {path}: cannot be read ({e})") from None
    out = {}
    for n, row in enumerate(rows, start=2):
        try:
            key, when = (row["student_id"].strip(), row["lesson"].strip()), row["timestamp"].strip()
            parse_utc(when)
        except (KeyError, AttributeError, ValueError, TypeError) as e:
            raise CourseError(f"--timestamps {path}, line {n}: expected the columns student_id, lesson, timestamp "
                              f"with a date and time ({type(e).__name__}: {e})") from None
        out[key] = when
    return out


def journal_path(root: Path, lesson: str, student: str) -> Path:
    return root / "autograded" / JOURNAL / lesson / f"{student}.json"


def read_journal(root: Path, lesson: str, student: str) -> dict | None:
    try:
        return json.loads(journal_path(root, lesson, student).read_text())
    except (OSError, ValueError):
        return None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------- staging

#: A submitted notebook may have this many cells more than its source, or this many times as many: enough for
#: a learner's scratch cells, and a bound on the grader's own work on one submission (recording is serial).
EXTRA_CELLS, CELLS_FACTOR = 500, 5
TIMESTAMP_FILE = "timestamp.txt"


def source_cells(root: Path, lesson: str) -> dict[str, dict]:
    """notebook name -> {"cells": number of cells, "meta": {grade_id: nbgrader metadata}} of the lesson's source."""
    import nbformat

    out = {}
    for name in notebooks_of(root, lesson):
        nb = nbformat.read(root / SOURCE / lesson / f"{name}.ipynb", as_version=4)
        graded = [dict(c.metadata["nbgrader"]) for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")]
        out[name] = {"cells": len(nb.cells), "meta": {m["grade_id"]: m for m in graded}}
    return out


def stage(job: Job, source: dict[str, dict], dest: Path, max_kb: int) -> None:
    """Copy a submission to ``dest`` without what must not be graded, noting in ``job`` what was left out.

    Only regular files are read, each opened without following links; links, FIFOs, devices, names that are
    not valid UTF-8, files over ``max_kb`` and the submission's own ``timestamp.txt`` (a submission's time
    comes from the instructor: :func:`grade`'s ``timestamps``) are left out. Each of the lesson's notebooks is
    checked (readable, not too many cells, graded cells' metadata as in the source, no graded cell twice)
    and written anew; other notebooks at the top are not the lesson's and are left out."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for folder, dirs, files in os.walk(job.folder):
        rel_dir = Path(folder).relative_to(job.folder)
        keep = []
        for d in sorted(dirs):
            rel = rel_dir / d
            if d in (".ipynb_checkpoints", "__pycache__"):
                continue
            if not _utf8(d):
                job.note("bad_name", f"{_shown(rel)}: a folder name that is not valid UTF-8; ignored")
            elif os.path.islink(os.path.join(folder, d)):
                job.note("link", f"{rel}: symbolic link ignored")
            else:
                keep.append(d)
                (dest / rel).mkdir()
        dirs[:] = keep
        for name in sorted(files):
            _stage_file(job, source, Path(folder, name), rel_dir / name, dest, max_kb)
    for name in source:
        if not (dest / f"{name}.ipynb").exists() and "unreadable" not in job.codes:
            job.note("missing", f"{name}.ipynb: missing; scored zero")
    if job.timestamp:
        (dest / TIMESTAMP_FILE).write_text(job.timestamp + "\n")


def _shown(rel: Path) -> str:
    return os.fsencode(rel).decode(errors="replace")


def _stage_file(job: Job, source: dict, path: Path, rel: Path, dest: Path, max_kb: int) -> None:
    if not _utf8(str(rel)):
        job.note("bad_name", f"{_shown(rel)}: a file name that is not valid UTF-8; ignored")
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        code = "link" if os.path.islink(path) else "not_regular"
        job.note(code, f"{rel}: {'symbolic link' if code == 'link' else e.strerror.lower()}; ignored")
        return
    with open(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            job.note("not_regular", f"{rel}: not a regular file, ignored")
            return
        if st.st_size > max_kb * 1000:
            job.note("too_big", f"{rel}: {st.st_size / 1e6:.0f} MB file ignored (limit {max_kb / 1000:.0f} MB)")
            return
        if rel == Path(TIMESTAMP_FILE):
            job.note("timestamp_ignored", f"{TIMESTAMP_FILE}: ignored (a submission's time is the instructor's, "
                                          "from grade --timestamps)")
            return
        if len(rel.parts) == 1 and rel.suffix == ".ipynb":
            if rel.stem in source:
                _stage_notebook(job, source[rel.stem], f.read(), rel, dest / rel)
            else:
                job.note("extra_notebook", f"{rel}: not a notebook of this lesson; not graded")
            return
        with open(dest / rel, "wb") as out:
            shutil.copyfileobj(f, out)
        os.utime(dest / rel, ns=(st.st_atime_ns, st.st_mtime_ns))


def _stage_notebook(job: Job, source: dict, data: bytes, rel: Path, dest: Path) -> None:
    """Read one of the lesson's notebooks and write it to ``dest`` as nbgrader may grade it, or note why not."""
    import nbformat

    most = max(source["cells"] + EXTRA_CELLS, source["cells"] * CELLS_FACTOR)
    try:
        raw = json.loads(data)
        n = len(raw["cells"]) if isinstance(raw, dict) and isinstance(raw.get("cells"), list) else 0
        if n > most:  # counted before nbformat reads and validates it: that is the slow part
            job.note("too_many_cells", f"{rel}: {n} cells (the lesson has {source['cells']}; at most {most} are "
                                       "graded); graded as missing")
            job.codes.add("unreadable")
            return
        nb = nbformat.reads(data.decode(), as_version=4)
    except Exception as e:  # noqa: BLE001 - JSON, encoding or schema errors of any kind
        job.note("unreadable", f"{rel}: not a readable notebook ({type(e).__name__}); graded as missing")
        return
    seen, cells, tampered = set(), [], []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if meta is not None and grade_id not in source["meta"]:
            del cell.metadata["nbgrader"]  # a cell nbgrader does not know: an ordinary cell
            if isinstance(meta, dict) and (meta.get("grade") or meta.get("solution")):
                job.note("unknown_cell", f"{rel}: a graded cell {str(grade_id)[:40]!r} the lesson does not have; "
                                         "ignored")
        elif grade_id is not None:
            if grade_id in seen:
                job.note("duplicate_cell", f"{rel}: a second cell {grade_id!r} removed")
                continue
            want = source["meta"][grade_id]
            if any(meta.get(k) != want.get(k) for k in ("grade", "solution", "locked", "points", "task")):
                cell.metadata["nbgrader"] = dict(want)
                if want.get("grade"):
                    tampered.append(grade_id)
                    job.note("tampered", f"{rel}: the nbgrader metadata of graded cell {grade_id!r} was changed; "
                                         "restored and scored zero")
        seen.add(grade_id)
        cells.append(cell)
    nb.cells = cells
    if tampered:
        job.tampered[rel.stem] = tampered
    nbformat.write(nb, dest)


# ----------------------------------------------------------------------------------------------- nbgrader

def nbgrader_api(root: Path, overrides: dict):
    """nbgrader's API for the course at ``root`` with extra configuration on top of ``nbgrader_config.py``."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from .course import _venv_on_path

    _venv_on_path()
    config = load_config(root)
    config.merge(Config(overrides))
    logging.getLogger("NbGraderAPI").setLevel(logging.ERROR)
    with contextlib.redirect_stderr(io.StringIO()):
        return NbGraderAPI(CourseDirectory(config=config), config=config)


def _pipeline(execute) -> list:
    """nbgrader's autograde steps with its ``Execute`` replaced by ``execute``."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    steps = list(Autograde.class_traits()["autograde_preprocessors"].default())
    return [execute if step is Execute else step for step in steps]


def _check(result: dict, what: str) -> None:
    from .course import check_result

    check_result(result, what)


def notebooks_of(root: Path, lesson: str) -> list[str]:
    return sorted(p.stem for p in (root / SOURCE / lesson).glob("*.ipynb"))


def _lesson_in_gradebook(gb, root: Path, lesson: str) -> bool:
    """Whether the gradebook holds every graded, answer and locked cell of the lesson's notebooks (a
    ``generate_assignment`` interrupted by a killed grader leaves the lesson there only in part)."""
    import nbformat
    from nbgrader.api import MissingEntry

    try:
        for name in notebooks_of(root, lesson):
            for cell in nbformat.read(root / SOURCE / lesson / f"{name}.ipynb", as_version=4).cells:
                meta = cell.metadata.get("nbgrader", {})
                if not meta.get("grade_id"):
                    continue
                gb.find_source_cell(meta["grade_id"], name, lesson)
                if meta.get("grade"):
                    gb.find_grade_cell(meta["grade_id"], name, lesson)
                if meta.get("solution"):
                    gb.find_solution_cell(meta["grade_id"], name, lesson)
    except MissingEntry:
        return False
    return True


#: The gradebook's per-student tables (nbgrader 0.9's schema), emptied in a worker's copy of the gradebook.
STUDENT_TABLES = ("grade", "comment", "submitted_notebook", "submitted_assignment", "student")


def prepare_lesson(root: Path, lesson: str, template: Path, scratch: Path) -> None:
    """The lesson in the real gradebook (added with nbgrader's ``generate_assignment`` if missing, into a scratch
    release folder: ``lessons/`` untouched), and a scratch course holding only ``lesson`` whose gradebook every
    worker copies: a snapshot of the real one with every student's rows removed, so student code that escaped
    its box would find no one's scores there, and the workers never open the real gradebook."""
    import sqlite3

    from nbgrader.api import Gradebook

    real = nbgrader_api(root, {})
    url = real.coursedir.db_url
    if not url.startswith("sqlite:///"):
        raise CourseError(f"grade needs an SQLite gradebook (CourseDirectory.db_url = 'sqlite:///...'), not {url!r}")
    with Gradebook(url, real.coursedir.course_id) as gb:
        known = _lesson_in_gradebook(gb, root, lesson)
    if not known:
        release = scratch / f"release-{lesson}"
        api = nbgrader_api(root, {"CourseDirectory": {"release_directory": str(release)}})
        _check(api.generate_assignment(lesson, force=True, create=True), f"adding {lesson} to the gradebook")
    template.mkdir(parents=True)
    shutil.copy(root / CONFIG_FILE, template / CONFIG_FILE)
    shutil.copytree(root / SOURCE / lesson, template / SOURCE / lesson,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    source = sqlite3.connect(url[len("sqlite:///"):])
    copy = sqlite3.connect(template / "gradebook.db")
    try:
        source.backup(copy)  # a consistent snapshot (this process is the gradebook's only writer)
        with copy:
            for table in STUDENT_TABLES:
                copy.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        copy.execute("VACUUM")
    finally:
        source.close()
        copy.close()


# ----------------------------------------------------------------------------------------------- worker

def run_worker(spec_file: str) -> int:
    """In a worker process: nbgrader ``autograde`` of one staged submission in a private scratch course."""
    spec = json.loads(Path(spec_file).read_text())
    course, lesson, student = Path(spec["course"]), spec["lesson"], spec["student"]
    limits = Limits(**spec["limits"])
    execute = {"course_root": spec["root"], "runtime_dir": str(course / "rt"), "uid": spec["uid"],
               "report_dir": spec["executed"], "wall_seconds": limits.wall_seconds, "memory_mb": limits.memory_mb,
               "output_bytes": limits.output_bytes, "file_mb": limits.file_mb, "sandbox": limits.sandbox}
    if limits.cell_seconds:
        execute["timeout"] = limits.cell_seconds
    from .sandbox import SandboxedExecute

    warnings.filterwarnings("ignore")
    api = nbgrader_api(course, {
        "CourseDirectory": {"submitted_directory": spec["submitted"]},
        "Autograde": {"autograde_preprocessors": _pipeline(SandboxedExecute)},
        "SandboxedExecute": execute,
    })
    result = api.autograde(lesson, student, force=True, create=True)
    if not result.get("success"):
        print((result.get("log") or "")[-3000:] + (result.get("error") or "")[-3000:], file=sys.stderr)
        return 1
    return 0


def _die_with_parent() -> None:
    """preexec for workers: die when the grader dies (a SIGKILLed grader leaves no workers behind)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


# ----------------------------------------------------------------------------------------------- replay

def _replay_class():
    from nbgrader.preprocessors import NbGraderPreprocessor
    from traitlets import Unicode

    class ReplayExecute(NbGraderPreprocessor):
        """nbgrader's ``Execute`` step, replayed: outputs come from the worker's executed notebook, matched
        cell by cell (same sources, or the submission changed under us); nothing runs in this process."""

        executed_dir = Unicode("", help="<executed_dir>/<student>/<lesson>/<notebook>.ipynb").tag(config=True)

        def preprocess(self, nb, resources):
            import nbformat
            from nbformat.notebooknode import NotebookNode

            meta = resources["nbgrader"]
            path = Path(self.executed_dir) / meta["student"] / meta["assignment"] / f"{meta['notebook']}.ipynb"
            done = nbformat.read(path, as_version=4) if path.is_file() else None
            if done is not None and [c.source for c in done.cells] != [c.source for c in nb.cells]:
                raise RuntimeError(f"{path}: executed cells differ from the sanitized submission")
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                if done is None:
                    cell.outputs = [NotebookNode(output_type="error", ename="GradingLimitError",
                                                 evalue="the notebook could not be executed",
                                                 traceback=["GradingLimitError: the notebook could not be executed"])]
                    continue
                cell.outputs = done.cells[index].outputs
                cell.execution_count = done.cells[index].get("execution_count")
            if done is not None and "language_info" in done.metadata:
                nb.metadata["language_info"] = done.metadata["language_info"]
            return nb, resources

    return ReplayExecute


def _recorder(root: Path, stage_dir: Path):
    """nbgrader's API on the real course, reading staged submissions and replaying executed notebooks."""
    return nbgrader_api(root, {
        "CourseDirectory": {"submitted_directory": str(stage_dir / "submitted"),
                            "autograded_directory": str(root / "autograded" / STAGING)},
        "Autograde": {"autograde_preprocessors": _pipeline(_replay_class())},
        "ReplayExecute": {"executed_dir": str(stage_dir / "executed")},
    })


def record(root: Path, job: Job, stage_dir: Path, api=None, run: bool = True) -> None:
    """Write one executed submission into the real gradebook and ``autograded/`` (the parent, serially).
    ``run=False``: nothing of the submission could be read; it is recorded with zero everywhere."""
    staging = root / "autograded" / STAGING
    api = api or _recorder(root, stage_dir)
    staged = stage_dir / "submitted" / job.student / job.lesson
    final = root / "autograded" / job.student / job.lesson
    if not run or not any(staged.glob("*.ipynb")):
        _record_nothing(api, job)  # nbgrader's autograde stops at "no notebooks": score it zero as nbgrader
        if final.exists():         # does a missing notebook of a lesson that has several
            shutil.rmtree(final)
        return
    _check(api.autograde(job.lesson, job.student, force=True, create=True), f"recording {job.student}/{job.lesson}")
    built = staging / job.student / job.lesson
    for text in _zero_cells(api, job, built):
        job.note("deleted_cell", text)
    final.parent.mkdir(parents=True, exist_ok=True)
    old = final.with_name(f".{job.lesson}.old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.rename(final, old)
    os.rename(built, final)
    if old.exists():
        shutil.rmtree(old)


def gradebook_snapshot(db_url: str, students: list[str] | None = None) -> dict:
    """Everything grading puts in a gradebook, without row ids: per student and lesson the submission's
    timestamp, lateness and scores, and per notebook and cell the auto/manual score, max score, whether it
    needs manual grading, and the automatic comment. Two gradebooks graded alike compare equal."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(db_url) as gb:
        for a in gb.assignments:
            for sub in a.submissions:
                if students is not None and sub.student_id not in students:
                    continue
                out[(sub.student_id, a.name)] = {
                    "timestamp": str(sub.timestamp), "seconds_late": sub.total_seconds_late,
                    "score": sub.score, "max_score": sub.max_score, "code_score": sub.code_score,
                    "needs_manual_grade": sub.needs_manual_grade,
                    "cells": {(nb.name, g.name): (g.auto_score, g.manual_score, g.extra_credit, g.max_score,
                                                  g.needs_manual_grade) for nb in sub.notebooks for g in nb.grades},
                    "comments": {(nb.name, c.name): (c.auto_comment, c.manual_comment)
                                 for nb in sub.notebooks for c in nb.comments},
                }
    return out


def _record_nothing(api, job: Job) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        gb.update_or_create_student(job.student)
        submission = gb.update_or_create_submission(job.lesson, job.student)
        for notebook in submission.notebooks:
            for g in notebook.grades:
                g.auto_score = 0
                g.needs_manual_grade = False
        gb.db.commit()


def _zero_cells(api, job: Job, built: Path) -> list[str]:
    """Score zero the graded cells the student deleted (nbgrader gives them no grade) and those whose metadata
    they changed (``job.tampered``, restored when staged); return the reasons for the deleted ones."""
    import nbformat
    from nbgrader.api import Gradebook

    reasons = []
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        submission = gb.find_submission(job.lesson, job.student)
        for notebook in submission.notebooks:
            path = built / f"{notebook.name}.ipynb"
            if not path.exists():
                continue
            present = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nbformat.read(path, as_version=4).cells}
            tampered = set(job.tampered.get(notebook.name, ()))
            for g in notebook.grades:
                if g.name in tampered or (g.name not in present and g.auto_score is None and g.manual_score is None):
                    g.auto_score = 0
                    g.needs_manual_grade = False
                    if g.name not in tampered:
                        reasons.append(f"{notebook.name}.ipynb: graded cell {g.name!r} deleted; scored zero")
        gb.db.commit()
    return reasons


# ----------------------------------------------------------------------------------------------- the run

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
          timestamps: Path | None = None) -> Summary:
    """Grade every submission of the chosen lessons; see the module docstring for how.

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
    if timestamps is not None:
        read_timestamps(timestamps)  # a malformed file is the instructor's one-line error, before anything runs
    start = time.perf_counter()
    all_jobs = [j for j in collect(root, chosen, log) if not students or j.student in students]
    lesson_fp = {lesson: lesson_fingerprint(root, lesson, limits) for lesson in chosen}
    times = read_timestamps(timestamps) if timestamps else {}
    todo, skipped = [], []
    for job in all_jobs:
        job.timestamp = times.get((job.student, job.lesson), "")
        try:
            job.fingerprint = hashlib.sha256((fingerprint(job.folder) + job.timestamp).encode()).hexdigest()
        except OSError as e:
            job.refused = job.refused or f"the submission cannot be read ({e.strerror or type(e).__name__}); not graded"
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
                _run(root, todo, jobs, limits, scratch, max_kb, lesson_fp, log, progress)
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
    """Temporary files of this process and its workers (nbgrader's alembic.ini, ...) go into ``folder``, part of
    the scratch folder, so a killed grader's leftovers are removed with it by the next run."""
    folder.mkdir()
    saved_env, saved_dir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved_dir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env


def _remove_abandoned_scratch() -> None:
    """Scratch folders (``nlg-<pid>-*``) of graders killed before their clean-up: their process is gone."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*"):
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


class _Slot:
    """A persistent worker process (nbgrader imported once) that grades the jobs it is handed one by one."""

    def __init__(self, k: int, scratch: Path, env: dict):
        self.log = scratch / f"worker-{k}.log"
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "autograder.grade", "--serve"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=log, env=env, cwd=scratch, text=True,
                                         start_new_session=True, preexec_fn=_die_with_parent)
        self.job: tuple | None = None

    def send(self, spec_file: Path) -> None:
        self.proc.stdin.write(f"{spec_file}\n")
        self.proc.stdin.flush()

    def result(self) -> int | None:
        """The job's exit status once the worker has answered (or died); None while it runs."""
        import select

        if select.select([self.proc.stdout], [], [], 0)[0]:
            line = self.proc.stdout.readline()
            if line.strip().lstrip("-").isdigit():
                return int(line)
        if self.proc.poll() is not None:
            return self.proc.returncode or -1
        return None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def last_log_line(self) -> str:
        lines = self.log.read_text(errors="replace").strip().splitlines()
        return lines[-1][:300] if lines else "?"


def _run(root, todo, jobs, limits, scratch, max_kb, lesson_fp, log, progress) -> None:
    stage_dir = scratch / "stage"
    sources = {lesson: source_cells(root, lesson) for lesson in {job.lesson for job in todo}}
    bar = progress_bar(len(todo), progress, unit="notebook", desc="grading")
    recorder = _recorder(root, stage_dir)
    pending = []
    for n, job in enumerate(todo):
        if job.refused:  # nothing of it is read: zero, with the reason
            job.note("refused", job.refused)
            _finish(root, job, 0, time.monotonic(), stage_dir, None, lesson_fp, recorder, scratch)
            bar.update(1)
        else:
            pending.append((n, job))
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 1) // jobs)), PYTHONWARNINGS="ignore")
    backstop = limits.wall_seconds + 120  # the worker enforces wall_seconds itself; this catches a stuck worker
    slots = [_Slot(k, scratch, env) for k in range(min(jobs, len(pending)))]
    try:
        while pending or any(slot.job for slot in slots):
            for k, slot in enumerate(slots):
                if slot.job is None and pending:
                    n, job = pending.pop(0)
                    course = _launch(root, job, n, k, scratch, stage_dir, limits, max_kb, sources[job.lesson])
                    if slot.proc.poll() is not None:
                        slot.__init__(k, scratch, env)
                    slot.send(course / "job.json")
                    slot.job = (job, course, time.monotonic())
            time.sleep(0.02)
            for k, slot in enumerate(slots):
                if slot.job is None:
                    continue
                job, course, started = slot.job
                code = slot.result()
                if code is None and time.monotonic() - started > backstop:
                    slot.kill()
                    job.note("worker_killed", f"grader worker killed after {backstop:g} s")
                    code = -9
                if code is None:
                    continue
                if code != 0 and not job.codes & {"worker_killed", "missing", "unreadable"}:
                    job.note("worker_failed", f"grader worker failed: {_public(slot.last_log_line(), scratch)}")
                if code != 0 and slot.proc.poll() is not None:
                    slot.__init__(k, scratch, env)  # a fresh worker for the next job
                slot.job = None
                _finish(root, job, code, started, stage_dir, course, lesson_fp, recorder, scratch)
                bar.update(1)
                bar.set_postfix_str(f"{job.student}/{job.lesson}: {job.status}")
    finally:
        for slot in slots:
            slot.kill()
        bar.close()


def _public(text: str, scratch: Path) -> str:
    """A reason as the instructor reads it: about the student's files, not the grader's scratch folders."""
    text = re.sub(re.escape(str(scratch)) + r"/(?:stage/submitted/|w/\d+/(?:autograded|submitted)/)?", "", text)
    return re.sub(r"/\S*/nlg-[^/\s]+/\S*", "<grader scratch>", text)


def _launch(root, job, n, slot, scratch, stage_dir, limits, max_kb, source) -> Path:
    from .sandbox import KERNEL_UID

    stage(job, source, stage_dir / "submitted" / job.student / job.lesson, max_kb)
    course = scratch / "w" / str(n)
    course.mkdir(parents=True)
    tpl = scratch / "tpl" / job.lesson
    shutil.copy(tpl / CONFIG_FILE, course / CONFIG_FILE)
    shutil.copytree(tpl / SOURCE / job.lesson, course / SOURCE / job.lesson)
    shutil.copy(tpl / "gradebook.db", course / "gradebook.db")
    executed = stage_dir / "executed" / job.student / job.lesson
    spec = {"root": str(root), "course": str(course), "lesson": job.lesson, "student": job.student,
            "submitted": str(stage_dir / "submitted"), "executed": str(executed), "limits": asdict(limits),
            "uid": KERNEL_UID + slot}
    (course / "job.json").write_text(json.dumps(spec))
    return course


def _finish(root, job, code, started, stage_dir, course, lesson_fp, recorder, scratch) -> None:
    """Record a submission whose worker has ended (or that was refused): gradebook, autograded/, journal."""
    executed = stage_dir / "executed" / job.student / job.lesson
    for report in sorted(executed.glob("*.limits.json")):
        info = json.loads(report.read_text())
        name = report.name.split(".")[0]
        job.execute_seconds += info.get("execute_seconds", 0.0)
        if info.get("stopped"):
            job.note(info.get("code") or "kernel_died", f"{name}.ipynb: {info['stopped']}")
        for cell in info.get("cells", []):
            if cell["reason"] != info.get("stopped"):
                job.note(cell.get("code") or "kernel_died", f"{name}.ipynb cell {cell['cell']}: {cell['reason']}")
    job.worker_seconds = time.monotonic() - started
    t0 = time.monotonic()
    try:
        record(root, job, stage_dir, recorder, run=not job.refused)
    except Exception as e:  # noqa: BLE001 - whatever nbgrader makes of it, this submission gets zero and a reason
        job.note("record_failed", _public(f"recording failed ({str(e)[:300] or type(e).__name__}); scored zero",
                                          scratch))
        _record_nothing(recorder, job)
        shutil.rmtree(root / "autograded" / job.student / job.lesson, ignore_errors=True)
    job.status = status_of(job.codes)
    job.record_seconds = time.monotonic() - t0
    job.seconds = time.monotonic() - started
    _write_atomic(journal_path(root, job.lesson, job.student), json.dumps({
        "student": job.student, "lesson": job.lesson, "status": job.status, "reasons": job.reasons,
        "codes": sorted(job.codes), "fingerprint": job.fingerprint, "lesson_fingerprint": lesson_fp[job.lesson],
        "seconds": round(job.seconds, 2), "execute_seconds": round(job.execute_seconds, 2),
        "worker_seconds": round(job.worker_seconds, 2), "record_seconds": round(job.record_seconds, 2),
        "autograded": (root / "autograded" / job.student / job.lesson).is_dir()}, indent=1))
    if course is not None:
        shutil.rmtree(course, ignore_errors=True)
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


def serve() -> int:
    """A persistent worker: grade the job files named on stdin, one per line; answer each with its status."""
    import traceback

    answer = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever nbgrader prints goes to the log, not into the answers
    for line in sys.stdin:
        try:
            code = run_worker(line.strip())
        except Exception:  # noqa: BLE001 - reported to the grader, which records the reason
            traceback.print_exc()
            code = 1
        sys.stderr.flush()
        answer.write(f"{code}\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--serve":
        sys.exit(serve())
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        sys.exit(run_worker(sys.argv[2]))
    sys.exit("usage: python -m autograder.grade --worker JOB.json (internal; use python -m autograder grade)")
