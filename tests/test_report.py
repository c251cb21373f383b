"""`python -m autograder report`: the class's scores and named mistakes, counted from what grading wrote.

A fast test counts a hand-made gradebook and hand-made graded notebooks (forged diagnoses included); a slow one
grades a small class for real (the attack lesson of ``tests/attacks``, with known-wrong answers from
``tests/mutants/standardize``), reports it, checks the counts and takes a screenshot of the page
(``runs/report/report.png``).
"""

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from attacks import HONEST, LESSON, lesson
from autograder.checks._core import DIAGNOSIS_MIME
from autograder.report import catalogue, report

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = catalogue()  # every check module loaded
SHOT = ROOT / "runs" / "report" / "report.png"


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def by_key(mistakes: list[dict]) -> dict:
    return {(r["cell"] if not r["mistake"] else r["mistake"]): r for r in mistakes}


# ---------------------------------------------------------------------------------------------------------
# The channel: a failed check leaves its catalogue key in the cell, once, in a MIME type nothing renders.
@pytest.mark.slow  # starts a kernel
def test_a_failed_check_leaves_its_diagnosis_once_and_nothing_else(tmp_path):
    from nbclient import NotebookClient

    cells = ["import autograder.checks.standardize  # its mistakes in the catalogue\n"
             "from autograder.checks._core import CheckFailure, fail",
             # a failure the check catches itself (as checks do to try another diagnosis) publishes nothing
             "try:\n    fail('Standardize', 'c', 'first try', 'std_unbiased')\nexcept CheckFailure:\n    pass\n"
             "fail('Standardize', 'c', 'the std differs', 'std_is_var')",
             "fail('LayerNorm', 'c', 'unrecognised')",
             "print('passed')"]
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    published = [[o.data for o in c.outputs if o.output_type == "display_data"] for c in nb.cells]
    assert published == [[], [{DIAGNOSIS_MIME: {"mistake": "std_is_var", "subject": "Standardize"}}],
                         [{DIAGNOSIS_MIME: {"mistake": None, "subject": "LayerNorm"}}], []]
    assert [o.ename for o in nb.cells[1].outputs if o.output_type == "error"] == ["CheckFailure"]


# ---------------------------------------------------------------------------------------------------------
# Counting, on a hand-made class (no kernel).
def diagnosis(key):
    return new_output("display_data", data={DIAGNOSIS_MIME: {"mistake": key, "subject": "Standardize"}})


def error(name):
    return new_output("error", ename=name, evalue="", traceback=[])


def graded_notebook(outputs: dict) -> nbformat.NotebookNode:
    cells = []
    for grade_id, outs in outputs.items():
        cell = new_code_cell("check()", metadata={"nbgrader": {"grade": True, "grade_id": grade_id, "locked": True,
                                                               "solution": False, "points": 1}})
        cell.outputs = outs
        cells.append(cell)
    return new_notebook(cells=cells)


def hand_made_class(root: Path) -> Path:
    """A course whose gradebook holds lesson 99_attack's three test cells and four students (one of whom
    submitted nothing), with graded notebooks as a check would leave them -- and as a kernel could forge them."""
    from nbgrader.api import Gradebook

    (root / "solutions" / LESSON).mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    nbformat.write(lesson(), root / "solutions" / LESSON / f"{LESSON}.ipynb")
    points = {"test_standardize": 3, "test_standardize_hidden": 4, "test_double": 1}
    scores = {"ann": (3, 4, 1), "bob": (0, 0, 1), "cyd": (0, 0, 0)}
    notebooks = {
        "ann": {"test_standardize": [], "test_standardize_hidden": [], "test_double": []},
        "bob": {"test_standardize": [diagnosis("std_unbiased"), error("CheckFailure")],
                "test_standardize_hidden": [diagnosis("std_unbiased"), diagnosis("std_unbiased"),
                                            error("CheckFailure")],
                "test_double": [diagnosis("<script>alert(1)</script>")]},  # forged, on a passed cell: not counted
        "cyd": {"test_standardize": [diagnosis(None), error("CheckFailure")],
                "test_standardize_hidden": [diagnosis("std_is_var"), diagnosis("=cmd|' /C calc'!A0"),
                                            error("CheckFailure")],
                "test_double": [error("NameError")]},
    }
    with Gradebook(f"sqlite:///{root}/gradebook.db", "normlab") as gb:
        gb.add_assignment(LESSON)
        gb.add_notebook(LESSON, LESSON)
        for cell, p in points.items():
            gb.add_grade_cell(cell, LESSON, LESSON, max_score=p, cell_type="code")
        for student in ["ann", "bob", "cyd", "dan"]:
            gb.add_student(student)
        for student, got in scores.items():
            gb.add_submission(LESSON, student)
            for cell, score in zip(points, got):
                grade = gb.find_grade(cell, LESSON, LESSON, student)
                grade.auto_score, grade.needs_manual_grade = score, False
            gb.db.commit()
            folder = root / "autograded" / student / LESSON
            folder.mkdir(parents=True)
            nbformat.write(graded_notebook(notebooks[student]), folder / f"{LESSON}.ipynb")
    return root


def test_counts_named_mistakes_per_exercise_and_failures_without_one(tmp_path):
    course = hand_made_class(tmp_path / "course")
    html, cells_csv, mistakes_csv = report(course, [LESSON], out=tmp_path / "out", log=lambda *a: None)
    cells = {r["cell"]: r for r in rows(cells_csv)}
    assert [cells[c][k] for c in ("test_standardize", "test_double") for k in ("students", "failed", "mean_score")] \
        == ["3", "2", "1.0", "3", "1", "0.667"]
    assert cells["test_standardize"]["score_counts"] == "0: 2; 3: 1"
    assert cells["test_standardize"]["failed_without_named_mistake"] == "1"  # cyd: a check failed, unrecognised
    mistakes = by_key(rows(mistakes_csv))
    unbiased = mistakes["std_unbiased"]  # bob, in both cells, counted once
    assert (unbiased["count"], unbiased["total"], unbiased["exercise"], unbiased["cell"]) == \
        ("1", "3", "Standardize", "test_standardize; test_standardize_hidden")
    assert (unbiased["name"], unbiased["fix"]) == (CATALOGUE["std_unbiased"].name, CATALOGUE["std_unbiased"].fix)
    assert mistakes["std_is_var"]["students"] == "cyd"
    assert set(mistakes) == {"std_unbiased", "std_is_var", "test_standardize", "test_double"}  # forged keys ignored
    assert (mistakes["test_standardize"]["students"], mistakes["test_double"]["students"]) == ("cyd", "cyd")
    page = html.read_text()
    assert "<script>alert" not in page and "=cmd" not in page and "calc" not in page
    assert f"{CATALOGUE['std_unbiased'].name}" in page and "No submission: dan" in page
    assert "cyd (NameError)" in page


def test_lessons_with_nothing_graded_are_said_so(tmp_path):
    course = hand_made_class(tmp_path / "course")
    (course / "solutions" / "98_empty").mkdir()
    nbformat.write(lesson(), course / "solutions" / "98_empty" / "98_empty.ipynb")
    lines = []
    html, cells_csv, _ = report(course, None, out=tmp_path / "out", log=lines.append)
    assert "98_empty: not in the gradebook: not released or graded yet" in lines
    assert "not in the gradebook" in html.read_text() and rows(cells_csv)[0]["lesson"] == LESSON
    (course / "gradebook.db").unlink()
    html, *_ = report(course, None, out=tmp_path / "out", log=lines.append)
    assert not (course / "gradebook.db").exists()  # reading made no gradebook
    page = html.read_text()
    assert all(f">{name}</h2><p class=note>no gradebook yet" in page for name in ("98_empty", LESSON))
    r = subprocess.run([sys.executable, "-m", "autograder", "report", "42"], cwd=course, capture_output=True,
                       text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "unknown lesson" in r.stderr


# ---------------------------------------------------------------------------------------------------------
# A small class graded for real.
def with_answer(source: str):
    """A student whose ``Standardize`` answer cell holds ``source``."""
    def build(nb, folder, ctx):
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "standardize")
        cell.source = source
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{LESSON}.ipynb")
    return build


def mutant(name: str) -> str:
    """A known-wrong answer of the corpus as one answer cell: the solution it builds on, then the mutant."""
    solution = (ROOT / "tests" / "variants" / "standardize" / "solution.py").read_text()
    lines = (ROOT / "tests" / "mutants" / "standardize" / f"{name}.py").read_text().splitlines()
    body = [line for line in lines if not line.startswith(("from variants", "ANSWER, CHECK"))]
    return solution + "\n\nSolution = Standardize\n\n" + "\n".join(body)


CLASS = HONEST | {"std_is_var": with_answer(mutant("std_is_var")),
                  "batch_statistics": with_answer(mutant("batch_statistics")),
                  "stub": with_answer("# YOUR CODE HERE\nraise NotImplementedError()")}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from autograder.grade import Limits, grade
    from autograder.sandbox import bwrap_available
    from test_grading import make_course

    if not bwrap_available():
        pytest.skip("bwrap (bubblewrap) is not installed")
    course = make_course(tmp_path_factory.mktemp("report") / "course", dict(CLASS))
    grade(course, [LESSON], jobs=2, limits=Limits(wall_seconds=150, cell_seconds=30, memory_mb=3072),
          progress=False, log=lambda *a: None)
    return course


@pytest.mark.slow
def test_report_of_a_graded_class_names_its_mistakes(graded):
    r = subprocess.run([sys.executable, "-m", "autograder", "report"], cwd=graded, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = graded / "reports"
    cells = {row["cell"]: row for row in rows(out / "cells.csv")}
    assert (cells["test_standardize"]["students"], cells["test_standardize"]["failed"]) == ("5", "4")
    assert (cells["test_double"]["failed"], cells["test_double"]["mean_score"]) == ("0", "1.0")
    mistakes = rows(out / "mistakes.csv")
    named = {row["mistake"]: row for row in mistakes if row["mistake"]}
    assert {k: (v["count"], v["total"], v["students"]) for k, v in named.items()} == {
        "std_unbiased": ("1", "5", "honest_wrong"), "std_is_var": ("1", "5", "std_is_var"),
        "batch_statistics": ("1", "5", "batch_statistics")}
    unbiased = named["std_unbiased"]
    assert (unbiased["exercise"], unbiased["name"], unbiased["fix"]) == (
        "Standardize", CATALOGUE["std_unbiased"].name, CATALOGUE["std_unbiased"].fix)
    unnamed = {row["cell"]: row for row in mistakes if not row["mistake"]}
    assert unnamed["test_standardize"]["students"] == "stub"  # NameError: no check ran, none named a mistake
    page = (out / "report.html").read_text()
    assert f"{CATALOGUE['std_unbiased'].name}" in page and "<b>1</b> of 5" in page
    assert "stub (NameError)" in page and page.count("data:image/png;base64,") == 3
    screenshot(out / "report.html")


def screenshot(page: Path) -> None:
    """The page as an instructor sees it, through headless Chromium, into ``runs/report/report.png``."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        return
    SHOT.parent.mkdir(parents=True, exist_ok=True)
    SHOT.unlink(missing_ok=True)
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={SHOT}", "--window-size=1400,2600", page.as_uri()],
                   capture_output=True, timeout=120)
    assert SHOT.exists() and SHOT.stat().st_size > 10_000
