"""The course on disk: where its root is, which lessons it has, and nbgrader's API bound to it."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
from pathlib import Path

import nbformat

CONFIG_FILE = "nbgrader_config.py"
SOURCE = "solutions"
RELEASE = "lessons"
LESSON_RE = re.compile(r"^\d\d_[a-z0-9_]+$")


class CourseError(Exception):
    """A problem the instructor can fix (unknown lesson, no course here, malformed notebook)."""


def find_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` holding ``nbgrader_config.py`` and ``solutions/``."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file() and (folder / SOURCE).is_dir():
            return folder
    raise CourseError(f"no course found at or above {here} (a course root has {CONFIG_FILE} and {SOURCE}/)")


def lessons(root: Path) -> list[str]:
    """Lesson ids (``00_inputs``, ...) in order: folders of ``solutions/`` holding ``<id>/<id>.ipynb``."""
    return sorted(p.name for p in (root / SOURCE).iterdir()
                  if p.is_dir() and LESSON_RE.match(p.name) and (p / f"{p.name}.ipynb").is_file())


def resolve(root: Path, names: list[str] | None) -> list[str]:
    """Turn ``["00"]``, ``["00_inputs"]`` or nothing (all) into lesson ids; unknown names are an error."""
    known = lessons(root)
    if not names:
        return known
    out = []
    for name in names:
        match = [lesson for lesson in known if lesson == name or lesson.split("_", 1)[0] == name]
        if len(match) != 1:
            raise CourseError(f"unknown lesson {name!r}; the lessons are: {', '.join(known) or 'none'}")
        out.append(match[0])
    return out


def source_notebook(root: Path, lesson: str) -> Path:
    return root / SOURCE / lesson / f"{lesson}.ipynb"


def release_notebook(root: Path, lesson: str) -> Path:
    return root / RELEASE / lesson / f"{lesson}.ipynb"


def validate_source(path: Path) -> nbformat.NotebookNode:
    """Read and validate a source notebook, raising ``CourseError`` with one line saying what is wrong."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # noqa: BLE001 - JSON or schema errors of any kind
        raise CourseError(f"{path}: not a readable notebook ({type(e).__name__}: {str(e).splitlines()[0]})") from e
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as e:
        raise CourseError(f"{path}: invalid notebook ({e.message})") from e
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    ids = [i for i in ids if i]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CourseError(f"{path}: duplicate nbgrader grade_id {', '.join(dupes)}")
    return nb


def load_config(root: Path):
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()


def api(root: Path, overrides: dict | None = None):
    """nbgrader's ``NbGraderAPI`` for the course at ``root``, configured by its ``nbgrader_config.py`` (which sets
    the course root to its own folder, so a copied course is self-contained) and ``overrides`` on top."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    _venv_on_path()
    config = load_config(root)
    config.merge(Config(overrides or {}))
    # The API lists the (unused) exchange at start-up; keep that out of the instructor's terminal.
    logging.getLogger("NbGraderAPI").setLevel(logging.ERROR)
    with contextlib.redirect_stderr(io.StringIO()):
        return NbGraderAPI(CourseDirectory(config=config), config=config)


def _venv_on_path() -> None:
    """nbgrader runs ``alembic`` by name: make the running Python's scripts findable without activation."""
    scripts = os.path.dirname(sys.executable)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


_EXCEPTION_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.+)$")


def check_result(result: dict, what: str) -> None:
    """nbgrader's API reports failure in a dict; turn it into a ``CourseError`` naming the real cause.

    nbgrader's own last line is a generic "see the traceback above", so the message quotes the innermost
    exception found in its log instead.
    """
    if result.get("success"):
        return
    text = (result.get("log") or "") + "\n" + (result.get("error") or "")
    causes = [m for m in map(_EXCEPTION_LINE.match, text.splitlines()) if m and m.group(1) != "NbGraderException"]
    detail = f"{causes[0].group(1)}: {causes[0].group(2)}" if causes else (text.strip().splitlines() or ["?"])[-1]
    raise CourseError(f"{what} failed: {detail}")

