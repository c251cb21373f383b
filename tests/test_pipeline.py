"""The whole chain through real nbgrader: release, submit, autograde, feedback -- in a scratch course."""

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.course import api, check_result, lessons, release_notebook, source_notebook
from autograder.release import release
from autograder.selfcheck import grade_copies

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def copy_course(dst: Path) -> Path:
    shutil.copy(ROOT / "nbgrader_config.py", dst / "nbgrader_config.py")
    for folder in ("solutions", "lessons"):
        shutil.copytree(ROOT / folder, dst / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return dst


def test_release_reproduces_the_committed_lessons(tmp_path):
    course = copy_course(tmp_path)
    shutil.rmtree(course / "lessons")
    release(course, log=lambda *a: None)
    for lesson in lessons(ROOT):
        fresh = json.loads(release_notebook(course, lesson).read_text())
        committed = json.loads(release_notebook(ROOT, lesson).read_text())
        assert fresh == committed, f"lessons/{lesson} is out of date: run `python -m autograder release {lesson}`"


def with_answer(notebook: Path, grade_id: str, replace: tuple[str, str], out: Path) -> Path:
    """A copy of ``notebook`` whose answer cell ``grade_id`` has one mistake put in."""
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    assert replace[0] in cell.source
    cell.source = cell.source.replace(*replace)
    nbformat.write(nb, out)
    return out


def test_lesson00_solution_full_release_zero_wrong_answer_diagnosed_in_feedback(tmp_path):
    lesson = "00_inputs"
    wrong = with_answer(source_notebook(ROOT, lesson), "standardize",
                        ("std = x.std(dims, unbiased=False)", "std = x.std(dims)"), tmp_path / "wrong.ipynb")
    scratch = tmp_path / "course"
    scores = grade_copies(ROOT, lesson, {"solution": source_notebook(ROOT, lesson),
                                         "release": release_notebook(ROOT, lesson), "wrong": wrong}, scratch)
    assert scores["solution"].fraction == 1.0 and scores["solution"].max_points == 7
    assert scores["release"].points == 0
    assert scores["wrong"].points < scores["wrong"].max_points  # the visible and the hidden test catch it
    assert set(scores["wrong"].lost) == {"test_standardize (0/3)", "test_standardize_hidden (0/4)"}

    nbgrader = api(scratch)
    check_result(nbgrader.generate_feedback(lesson, "wrong"), "feedback")
    html = (scratch / "feedback" / "wrong" / lesson / f"{lesson}.html").read_text()
    assert "Likely mistake: the stored std uses the unbiased estimator" in html
    assert "unbiased=False" in html  # the fix is named ...
    solution_line = "std = torch.where(std == 0, torch.ones_like(std), std)"
    assert solution_line not in html.replace("&#39;", "'")  # ... the solution is not printed


NOISY = {
    "cells": [
        {"cell_type": "code", "id": "answer", "execution_count": None, "outputs": [], "source": "x = 1",
         "metadata": {"nbgrader": {"grade": False, "grade_id": "answer", "locked": False, "schema_version": 3,
                                   "solution": True, "task": False}}},
        {"cell_type": "code", "id": "test", "execution_count": None, "outputs": [],
         "source": "import sys, warnings\nwarnings.warn('a harmless library warning')\n"
                   "print('12%|#  | 1/8', file=sys.stderr)\nassert x == 1",
         "metadata": {"nbgrader": {"grade": True, "grade_id": "test", "locked": True, "points": 1,
                                   "schema_version": 3, "solution": False, "task": False}}},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


@pytest.mark.parametrize("ignore_pattern", [True, False], ids=["course config", "nbgrader default"])
def test_a_warning_on_stderr_does_not_zero_a_passing_test(tmp_path, ignore_pattern):
    """The course's IgnorePattern setting keeps a correct answer's warnings from failing its test;
    with nbgrader's default (the control) the same notebook scores zero."""
    source = tmp_path / "src"
    (source / "solutions" / "zz_warn").mkdir(parents=True)
    nb_path = source / "solutions" / "zz_warn" / "zz_warn.ipynb"
    nb_path.write_text(json.dumps(NOISY))
    config = (ROOT / "nbgrader_config.py").read_text()
    if not ignore_pattern:
        config += "\nc.IgnorePattern.enabled = False\n"
    (source / "nbgrader_config.py").write_text(config)
    scores = grade_copies(source, "zz_warn", {"student": nb_path}, tmp_path / "course")
    assert scores["student"].points == (1 if ignore_pattern else 0)


@pytest.mark.parametrize("lesson", [lesson for lesson in lessons(ROOT) if lesson != "00_inputs"])
def test_selfcheck_solution_full_marks_release_zero(lesson, tmp_path):
    """What `python -m autograder selfcheck` asserts, for every lesson (00 is covered in depth above)."""
    scores = grade_copies(ROOT, lesson, {"solution": source_notebook(ROOT, lesson),
                                         "release": release_notebook(ROOT, lesson)}, tmp_path)
    assert scores["solution"].fraction == 1.0, f"solution lost points: {scores['solution'].lost}"
    assert scores["release"].points == 0 and scores["release"].max_points > 0
