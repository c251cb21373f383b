"""What a submission is and how it is staged: found in ``submitted/``, fingerprinted, copied without what must
not be graded (see :func:`stage`), each thing left out or mended noted as a reason with a code."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .course import SOURCE, CourseError
from .gradebook import notebooks_of


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
