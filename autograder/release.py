"""``python -m autograder release``: generate the learner notebooks in ``lessons/`` from ``solutions/``;
``course-url``: set the repository that the lessons fetch in Colab, and release."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import nbformat

from .course import RELEASE, CourseError, api, check_result, resolve, source_notebook, validate_source


def release(root: Path, names: list[str] | None = None, log=print) -> list[str]:
    """Release the named lessons (all by default) with nbgrader's ``generate_assignment``.

    Every source notebook is validated before anything is written, and a lesson whose generation fails
    gets its previous release back, so a failed release changes nothing.
    """
    chosen = resolve(root, names)
    for lesson in chosen:
        validate_source(source_notebook(root, lesson))
    nbgrader = api(root)
    for lesson in chosen:
        target = root / RELEASE / lesson
        with tempfile.TemporaryDirectory() as tmp:
            backup = Path(tmp) / lesson
            if target.exists():
                shutil.copytree(target, backup)
            try:
                check_result(nbgrader.generate_assignment(lesson, force=True, create=True), f"releasing {lesson}")
            except BaseException:
                if target.exists():
                    shutil.rmtree(target)
                if backup.exists():
                    shutil.copytree(backup, target)
                raise
        log(f"released {lesson} -> {target.relative_to(root)}/")
    return chosen


#: The line of every lesson's setup cell that names the course repository (Colab clones it).
URL_LINE = re.compile(r'^(\s*COURSE_URL = )"([^"\n]*)"', re.M)
#: The same URL in pyproject.toml's [project.urls].
PROJECT_URL = re.compile(r'^(Repository = )"([^"\n]*)"', re.M)
GIT_URL = re.compile(r"^(https?://|ssh://|git://|file://|git@[\w.-]+:)[^\s\"'\\]+$")


def course_url(root: Path) -> str:
    """The repository URL the lessons' setup cells clone in Colab (as in ``pyproject.toml``)."""
    found = PROJECT_URL.search((root / "pyproject.toml").read_text()) if (root / "pyproject.toml").is_file() else None
    if not found:
        raise CourseError("pyproject.toml has no [project.urls] Repository = \"...\" line")
    return found.group(2)


def set_course_url(root: Path, url: str, log=print) -> list[str]:
    """Point every lesson's Colab set-up, and ``pyproject.toml``, at ``url``, then release every lesson.

    Every notebook is read and checked before anything is written, so a bad URL or a setup cell without
    the ``COURSE_URL`` line changes nothing."""
    if not GIT_URL.match(url):
        raise CourseError(f"not a repository URL git can clone: {url!r} (https://, ssh://, git@host:, file://)")
    chosen = resolve(root, None)
    edits = []
    for lesson in chosen:
        path = source_notebook(root, lesson)
        nb = validate_source(path)
        setup = next((c for c in nb.cells if c.cell_type == "code"), None)
        if setup is None or len(URL_LINE.findall(setup.source)) != 1:
            raise CourseError(f"{path}: the first code cell has no single line COURSE_URL = \"...\"")
        setup.source = URL_LINE.sub(lambda m: f'{m.group(1)}"{url}"', setup.source)
        edits.append((path, nb))
    project = root / "pyproject.toml"
    text = project.read_text() if project.is_file() else ""
    if len(PROJECT_URL.findall(text)) != 1:
        raise CourseError("pyproject.toml has no single [project.urls] Repository = \"...\" line")
    for path, nb in edits:
        nbformat.write(nb, path)
    project.write_text(PROJECT_URL.sub(lambda m: f'{m.group(1)}"{url}"', text))
    log(f"course URL set to {url} in {len(edits)} lessons and pyproject.toml")
    return release(root, chosen, log=log)
