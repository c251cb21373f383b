"""``python -m autograder selfcheck``: every solution must score full marks, every untouched release zero.

Grading happens in a scratch copy of the course (its own gradebook and submissions), through nbgrader's
own ``generate_assignment`` and ``autograde``, so the instructor's gradebook is never touched.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .course import (CONFIG_FILE, SOURCE, api, check_result, release_notebook, resolve, source_notebook,
                     validate_source)
from .progress import bar

# The two pretend students of a self-check and what each must score (fraction of the autograded points).
EXPECTED = {"solution": 1.0, "release": 0.0}


@dataclass
class Score:
    """Autograded points of one submission and the test cells that lost points."""

    points: float
    max_points: float
    lost: list[str] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return self.points / self.max_points if self.max_points else 0.0


def grade_copies(root: Path, lesson: str, submissions: dict[str, Path], scratch: Path) -> dict[str, Score]:
    """Autograde notebooks (student id -> notebook path) for ``lesson`` in a scratch course at ``scratch``."""
    (scratch / SOURCE).mkdir(parents=True, exist_ok=True)
    shutil.copy(root / CONFIG_FILE, scratch / CONFIG_FILE)
    if not (scratch / SOURCE / lesson).exists():
        shutil.copytree(root / SOURCE / lesson, scratch / SOURCE / lesson,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for student, notebook in submissions.items():
        dest = scratch / "submitted" / student / lesson
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(notebook, dest / f"{lesson}.ipynb")
    # its own SQLite gradebook, whatever the course's db_url (a PostgreSQL gradebook is never touched)
    nbgrader = api(scratch, {"CourseDirectory": {"db_url": f"sqlite:///{scratch / 'gradebook.db'}"}})
    check_result(nbgrader.generate_assignment(lesson, force=True, create=True), f"preparing {lesson}")
    scores = {}
    for student in submissions:
        check_result(nbgrader.autograde(lesson, student, force=True, create=True), f"grading {student}/{lesson}")
        scores[student] = read_score(nbgrader, lesson, student)
    return scores


def read_score(nbgrader, lesson: str, student: str) -> Score:
    """Autograded points (tests and autograded answers; manually graded answers excluded) from the gradebook."""
    with nbgrader.gradebook as gb:
        submission = gb.find_submission(lesson, student)
        lost = []
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.auto_score is not None and grade.max_score and grade.auto_score < grade.max_score:
                    lost.append(f"{grade.name} ({grade.auto_score:g}/{grade.max_score:g})")
        return Score(submission.code_score, submission.max_code_score, lost)


def selfcheck(root: Path, names: list[str] | None = None, log=print, progress: bool = False) -> bool:
    """Grade each lesson's solution and untouched release; print a table; True when all are as expected.

    ``progress``: a bar on stderr, advancing as each lesson (about ten seconds) is graded."""
    chosen = resolve(root, names)
    for lesson in chosen:
        validate_source(source_notebook(root, lesson))
    import warnings

    # nbgrader's gradebook triggers SQLAlchemy autoflush warnings that say nothing about the course.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    rows = []
    lessons_bar = bar(len(chosen), progress, unit="lesson", desc="selfcheck")
    for lesson in chosen:
        lessons_bar.set_postfix_str(lesson)
        rows.append(check_lesson(root, lesson))
        lessons_bar.update(1)
    lessons_bar.close()
    _print_table(rows, log)
    return not any(problems for *_, problems in rows)


def check_lesson(root: Path, lesson: str) -> tuple:
    """(lesson, solution's Score, release's Score, seconds, problems) for one lesson, graded in a scratch course."""
    released = release_notebook(root, lesson)
    if not released.is_file():
        return lesson, None, None, 0.0, [f"{released.relative_to(root)} is missing: run release"]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="normlab-selfcheck-") as tmp:
        scores = grade_copies(root, lesson, {"solution": source_notebook(root, lesson), "release": released},
                              Path(tmp))
    problems = [f"{who} scored {s.points:g}/{s.max_points:g}, expected {EXPECTED[who]:.0%}"
                + (f" (lost: {', '.join(s.lost)})" if who == "solution" and s.lost else "")
                for who, s in scores.items() if abs(s.fraction - EXPECTED[who]) > 1e-9 or not s.max_points]
    return lesson, scores["solution"], scores["release"], time.perf_counter() - start, problems


def _print_table(rows, log) -> None:
    def fmt(s):
        return "-" if s is None else f"{s.points:g}/{s.max_points:g} ({s.fraction:.0%})"

    log(f"{'lesson':<22} {'solution':>16} {'release':>16} {'seconds':>8}  verdict")
    for lesson, sol, rel, seconds, problems in rows:
        log(f"{lesson:<22} {fmt(sol):>16} {fmt(rel):>16} {seconds:>8.1f}  {'ok' if not problems else 'FAIL'}")
        for p in problems:
            log(f"    {p}")
