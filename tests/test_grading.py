"""`python -m autograder grade`: parallel, sandboxed, crash-safe grading, and its feedback and export.

One parallel run grades every attack of ``tests/attacks`` next to two honest students, with short limits;
the honest students must come out exactly as a serial, plain-nbgrader run grades them.
"""

import csv
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from attacks import ATTACKS, HONEST, LESSON, POINTS, lesson
from autograder.course import api, check_result
from autograder.grade import STUDENT_TABLES, Limits, grade, gradebook_snapshot, prepare_lesson, read_journal
from autograder.sandbox import bwrap_available

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not bwrap_available(), reason="bwrap (bubblewrap) is not installed")]
# Short enough to keep the run short, long enough for a busy 2-core CI machine (a cell that imports torch).
LIMITS = Limits(wall_seconds=150, cell_seconds=30, memory_mb=3072, output_bytes=1_000_000)


def make_course(folder: Path, students: dict) -> Path:
    """A course with the attack lesson and ``students`` (id -> builder) in ``submitted/``."""
    (folder / "solutions" / LESSON).mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", folder / "nbgrader_config.py")
    nbformat.write(lesson(), folder / "solutions" / LESSON / f"{LESSON}.ipynb")
    ctx = {"root": str(folder), "lesson": LESSON, "outside": str(folder.parent / "outside.txt")}
    for student, build in students.items():
        build(lesson(), folder / "submitted" / student / LESSON, ctx)
    return folder


def serial_nbgrader(folder: Path) -> dict:
    """Plain nbgrader, one notebook after another: the reference result."""
    nbgrader = api(folder)
    release = folder.parent / f"{folder.name}-release"
    nbgrader.coursedir.release_directory = str(release)
    check_result(nbgrader.generate_assignment(LESSON, force=True, create=True), "generate")
    for student in sorted(p.name for p in (folder / "submitted").iterdir()):
        check_result(nbgrader.autograde(LESSON, student, force=True, create=True), f"autograde {student}")
    return gradebook_snapshot(nbgrader.coursedir.db_url)


def snapshot(folder: Path, skip=("autograded", "gradebook.db", "feedback")) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.read_bytes() if p.stat().st_size < 1 << 24 else b"")
            for p in sorted(folder.rglob("*")) if p.is_file() and p.relative_to(folder).parts[0] not in skip}


def db(folder: Path) -> str:
    return f"sqlite:///{folder}/gradebook.db"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return serial_nbgrader(make_course(tmp_path_factory.mktemp("serial") / "course", HONEST))


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("attack") / "course", HONEST | {k: v[0] for k, v in ATTACKS.items()})
    before = snapshot(course)
    summary = grade(course, [LESSON], jobs=2, limits=LIMITS, progress=False, log=lambda *a: None)
    return course, before, summary


def cell_reasons(course: Path, student: str) -> str:
    """The recorded reasons: the journal, and the error outputs of the autograded notebook."""
    text = " ".join(read_journal(course, LESSON, student)["reasons"])
    path = course / "autograded" / student / LESSON / f"{LESSON}.ipynb"
    if path.exists():
        for cell in nbformat.read(path, as_version=4).cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    text += f" {out.ename}: {out.evalue}"
    return text


def test_honest_students_graded_exactly_as_serial_nbgrader(attacked, reference):
    course, _, _ = attacked
    assert gradebook_snapshot(db(course), list(HONEST)) == reference
    assert reference[("honest", LESSON)]["score"] == 8 and reference[("honest_wrong", LESSON)]["score"] == 1


def test_workers_gradebook_holds_the_lesson_and_no_student(attacked, tmp_path):
    course, _, _ = attacked
    prepare_lesson(course, LESSON, tmp_path / "tpl", tmp_path)
    count = "SELECT COUNT(*) FROM {}"
    with sqlite3.connect(course / "gradebook.db") as real, sqlite3.connect(tmp_path / "tpl" / "gradebook.db") as copy:
        assert all(real.execute(count.format(t)).fetchone()[0] > 0 for t in STUDENT_TABLES)  # graded: rows to hide
        assert [copy.execute(count.format(t)).fetchone()[0] for t in STUDENT_TABLES] == [0] * len(STUDENT_TABLES)
        for table in ("assignment", "notebook", "base_cell", "source_cell"):
            assert copy.execute(count.format(table)).fetchone()[0] == real.execute(count.format(table)).fetchone()[0]


@pytest.mark.parametrize("student", sorted(ATTACKS))
def test_attack_scores_zero_where_it_hits_with_a_reason(attacked, student):
    course, _, _ = attacked
    _, zero, reason = ATTACKS[student]
    grades = gradebook_snapshot(db(course), [student])[(student, LESSON)]["cells"]
    scores = {cell: g[0] for (_, cell), g in grades.items() if cell in POINTS}
    assert scores == {cell: 0 if cell in zero else POINTS[cell] for cell in POINTS}, scores
    assert reason in cell_reasons(course, student)


def test_attacks_change_nothing_outside_their_output(attacked):
    course, before, summary = attacked
    assert snapshot(course) == before  # submitted/, solutions/, config: untouched; nothing new
    assert not (course.parent / "outside.txt").exists()
    assert not any(p.name == "new_file.txt" for p in course.rglob("*"))
    statuses = {j.student: j.status for j in summary.jobs}
    assert statuses["honest"] == statuses["honest_wrong"] == statuses["big_file"] == "graded"
    assert statuses["loop_ignoring_interrupt"] == "timed out"
    assert statuses["corrupt_json"] == statuses["print_100mb"] == statuses["os_exit"] == "failed"


def test_feedback_teaches_without_hidden_tests_and_export_has_a_column_per_cell(attacked):
    course, _, _ = attacked
    r = subprocess.run([sys.executable, "-m", "autograder", "feedback", "--student", "honest_wrong",
                        "--student", "print_hidden_tests"], cwd=course, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    html = (course / "feedback" / "honest_wrong" / LESSON / f"{LESSON}.html").read_text()
    assert "Likely mistake: the stored std uses the unbiased estimator" in html
    assert "thorough=True" not in html and "hidden tests: not shown" in html
    printed = (course / "feedback" / "print_hidden_tests" / LESSON / f"{LESSON}.html").read_text()
    assert "check_standardize(Standardize)" in printed  # the visible test, printed by the student's code ...
    assert "thorough=True" not in printed  # ... but not the hidden one
    r = subprocess.run([sys.executable, "-m", "autograder", "export", "--to", "grades.csv"], cwd=course,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = {row["student_id"]: row for row in csv.DictReader((course / "grades.csv").open())}
    assert float(rows["honest"][LESSON]) == 8 and float(rows["honest"]["total"]) == 8
    assert float(rows["honest_wrong"][f"{LESSON}/{LESSON}/test_standardize_hidden"]) == 0
    assert float(rows["(max)"]["max_total"]) == 8


def test_killed_grader_rerun_equals_one_clean_run_and_regrading_changes_nothing(tmp_path, reference):
    course = make_course(tmp_path / "course", HONEST)
    submitted = snapshot(course / "submitted", skip=())
    cmd = [sys.executable, "-m", "autograder", "grade", "--jobs", "2", "-q"]
    scratch = tmp_path / "tmp"  # the graders' scratch folders go here
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    for _ in range(2):  # two interrupted runs, each killed at a random moment
        proc = subprocess.Popen(cmd, cwd=course, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        time.sleep(random.uniform(2, 12))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(1)
        assert not workers_of(course), "a killed grader left workers behind"
    r = subprocess.run(cmd, cwd=course, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert not list(scratch.iterdir()), "the killed graders' scratch folders were not cleaned up"
    assert gradebook_snapshot(db(course)) == reference
    assert snapshot(course / "submitted", skip=()) == submitted
    first = (course / "gradebook.db").read_bytes(), snapshot(course / "autograded", skip=())
    r = subprocess.run(cmd, cwd=course, capture_output=True, text=True)
    assert r.returncode == 0 and " 2" in r.stdout.splitlines()[1]  # two up to date, nothing graded
    assert ((course / "gradebook.db").read_bytes(), snapshot(course / "autograded", skip=())) == first


def test_lesson_left_in_the_gradebook_in_part_is_entered_again(tmp_path, reference):
    """A grader killed inside nbgrader's generate_assignment leaves the lesson in the gradebook without all of
    its cells; the next run must enter it again rather than grade against the fragment."""
    course = make_course(tmp_path / "course", HONEST)
    nbgrader = api(course)
    nbgrader.coursedir.release_directory = str(tmp_path / "release")
    check_result(nbgrader.generate_assignment(LESSON, force=True, create=True), "generate")
    with sqlite3.connect(course / "gradebook.db") as c:
        assert c.execute("DELETE FROM source_cell WHERE id = (SELECT MAX(id) FROM source_cell)").rowcount == 1
    summary = grade(course, [LESSON], jobs=2, limits=LIMITS, progress=False, log=lambda *a: None)
    assert [j.status for j in summary.jobs] == ["graded", "graded"], [j.reasons for j in summary.jobs]
    assert gradebook_snapshot(db(course)) == reference


def workers_of(course: Path) -> list[int]:
    """Orphaned grader workers or kernels (their grader is gone); ``course`` is unused: any orphan fails."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if (b"autograder.grade\0--serve" in cmdline or b"/rt/k.json" in cmdline) and (
                ppid == 1 or not Path(f"/proc/{ppid}").exists()):
            found.append(int(proc.name))
    return found


def test_grade_errors_are_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "autograder", "grade", "42_nothing"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "unknown lesson" in r.stderr
