"""The gradebook side of grading, all through nbgrader: its API bound to a course, the lesson entered in the
gradebook and a student-free copy of it for the workers, and recording an executed submission (nbgrader's own
``autograde`` with execution replayed from the worker's outputs). Works with any ``db_url`` nbgrader takes
(SQLite, PostgreSQL)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from .course import CONFIG_FILE, SOURCE

if TYPE_CHECKING:
    from .submission import Job

STAGING = ".staging"


def nbgrader_api(root: Path, overrides: dict):
    """nbgrader's API for the course at ``root`` with extra configuration on top of ``nbgrader_config.py``."""
    from .course import api

    return api(root, overrides)


def pipeline(execute) -> list:
    """nbgrader's autograde steps with its ``Execute`` replaced by ``execute``."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    steps = list(Autograde.class_traits()["autograde_preprocessors"].default())
    return [execute if step is Execute else step for step in steps]


def check(result: dict, what: str) -> None:
    from .course import check_result

    check_result(result, what)


def notebooks_of(root: Path, lesson: str) -> list[str]:
    return sorted(p.stem for p in (root / SOURCE / lesson).glob("*.ipynb"))


def lesson_in_gradebook(gb, root: Path, lesson: str) -> bool:
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
    worker copies: an SQLite copy of the real one (SQLite or PostgreSQL) without any student's rows, so student
    code that escaped its box would find no one's scores there, and the workers never open the real gradebook."""
    from nbgrader.api import Gradebook

    real = nbgrader_api(root, {})
    url = real.coursedir.db_url
    with Gradebook(url, real.coursedir.course_id) as gb:
        known = lesson_in_gradebook(gb, root, lesson)
    if not known:
        release = scratch / f"release-{lesson}"
        api = nbgrader_api(root, {"CourseDirectory": {"release_directory": str(release)}})
        check(api.generate_assignment(lesson, force=True, create=True), f"adding {lesson} to the gradebook")
    template.mkdir(parents=True)
    shutil.copy(root / CONFIG_FILE, template / CONFIG_FILE)
    shutil.copytree(root / SOURCE / lesson, template / SOURCE / lesson,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    student_free_copy(url, template / "gradebook.db")


def student_free_copy(url: str, dest: Path) -> None:
    """An SQLite gradebook at ``dest`` holding every row of the gradebook at ``url`` but the students' (the
    tables of :data:`STUDENT_TABLES`): nbgrader creates the schema, the rows are copied table by table."""
    from nbgrader.api import Base, Gradebook
    from sqlalchemy import create_engine, select

    Gradebook(f"sqlite:///{dest}").close()  # nbgrader's schema and its alembic version
    source, copy = create_engine(url), create_engine(f"sqlite:///{dest}")
    try:
        with source.connect() as read, copy.begin() as write:  # one transaction: a consistent snapshot
            for table in reversed(Base.metadata.sorted_tables):
                write.execute(table.delete())  # e.g. nbgrader's "default_course" row
            for table in Base.metadata.sorted_tables:
                if table.name not in STUDENT_TABLES:
                    rows = [dict(row) for row in read.execute(select(table)).mappings()]
                    if rows:
                        write.execute(table.insert(), rows)
    finally:
        source.dispose()
        copy.dispose()


def replay_class():
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


def recorder(root: Path, stage_dir: Path):
    """nbgrader's API on the real course, reading staged submissions and replaying executed notebooks."""
    return nbgrader_api(root, {
        "CourseDirectory": {"submitted_directory": str(stage_dir / "submitted"),
                            "autograded_directory": str(root / "autograded" / STAGING)},
        "Autograde": {"autograde_preprocessors": pipeline(replay_class())},
        "ReplayExecute": {"executed_dir": str(stage_dir / "executed")},
    })


def record(root: Path, job: Job, stage_dir: Path, api=None, run: bool = True) -> None:
    """Write one executed submission into the real gradebook and ``autograded/`` (the parent, serially).
    ``run=False``: nothing of the submission could be read; it is recorded with zero everywhere."""
    staging = root / "autograded" / STAGING
    api = api or recorder(root, stage_dir)
    staged = stage_dir / "submitted" / job.student / job.lesson
    final = root / "autograded" / job.student / job.lesson
    if not run or not any(staged.glob("*.ipynb")):
        record_nothing(api, job)  # nbgrader's autograde stops at "no notebooks": score it zero as nbgrader
        if final.exists():         # does a missing notebook of a lesson that has several
            shutil.rmtree(final)
        return
    check(api.autograde(job.lesson, job.student, force=True, create=True), f"recording {job.student}/{job.lesson}")
    built = staging / job.student / job.lesson
    for text in zero_cells(api, job, built):
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


def record_nothing(api, job: Job) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        gb.update_or_create_student(job.student)
        submission = gb.update_or_create_submission(job.lesson, job.student)
        for notebook in submission.notebooks:
            for g in notebook.grades:
                g.auto_score = 0
                g.needs_manual_grade = False
        gb.db.commit()


def zero_cells(api, job: Job, built: Path) -> list[str]:
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
