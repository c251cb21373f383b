"""`python -m autograder grade`: parallel, sandboxed, crash-safe grading, and its feedback and export.

One parallel run grades every attack of ``tests/attacks`` next to two honest students, with short limits;
the honest students must come out exactly as a serial, plain-nbgrader run grades them.
"""

import base64
import csv
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from attacks import ATTACKS, HONEST, LESSON, POINTS
from autograder.course import api, check_result
from autograder.grade import STUDENT_TABLES, grade, gradebook_snapshot, prepare_lesson, read_journal
from autograder.sandbox import bwrap_available
from classroom import HOST, LIMITS, ROOT, cell_reasons, db, make_course, snapshot

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not bwrap_available(), reason="bwrap (bubblewrap) is not installed")]


@pytest.fixture(scope="module")
def attacked(tmp_path_factory, host):
    course = make_course(tmp_path_factory.mktemp("attack") / "course", HONEST | {k: v[0] for k, v in ATTACKS.items()})
    stray = os.path.join(os.fsencode(course / "submitted"), b"\xffstudent", os.fsencode(LESSON))
    os.makedirs(stray)  # a student folder whose name is not UTF-8: no gradebook id; one line, the others graded
    shutil.copy(course / "submitted" / "honest" / LESSON / f"{LESSON}.ipynb", os.fsdecode(stray))
    before = snapshot(course)
    lines = []
    summary = grade(course, [LESSON], jobs=2, limits=LIMITS, progress=False, log=lines.append)
    return course, before, summary, lines


def test_honest_students_graded_exactly_as_serial_nbgrader(attacked, reference):
    course, *_ = attacked
    assert gradebook_snapshot(db(course), list(HONEST)) == reference
    assert reference[("honest", LESSON)]["score"] == 8 and reference[("honest_wrong", LESSON)]["score"] == 1


def test_workers_gradebook_holds_the_lesson_and_no_student(attacked, tmp_path):
    course, *_ = attacked
    prepare_lesson(course, LESSON, tmp_path / "tpl", tmp_path)
    count = "SELECT COUNT(*) FROM {}"
    with sqlite3.connect(course / "gradebook.db") as real, sqlite3.connect(tmp_path / "tpl" / "gradebook.db") as copy:
        assert all(real.execute(count.format(t)).fetchone()[0] > 0 for t in STUDENT_TABLES)  # graded: rows to hide
        assert [copy.execute(count.format(t)).fetchone()[0] for t in STUDENT_TABLES] == [0] * len(STUDENT_TABLES)
        for table in ("assignment", "notebook", "base_cell", "source_cell"):
            assert copy.execute(count.format(table)).fetchone()[0] == real.execute(count.format(table)).fetchone()[0]


@pytest.mark.parametrize("student", sorted(ATTACKS))
def test_attack_scores_zero_where_it_hits_with_a_reason(attacked, student):
    course, *_ = attacked
    _, zero, reason = ATTACKS[student]
    grades = gradebook_snapshot(db(course), [student])[(student, LESSON)]["cells"]
    scores = {cell: g[0] for (_, cell), g in grades.items() if cell in POINTS}
    assert scores == {cell: 0 if cell in zero else POINTS[cell] for cell in POINTS}, scores
    assert reason in cell_reasons(course, student)


def test_attacks_change_nothing_outside_their_output(attacked, host):
    course, before, summary, _ = attacked
    assert snapshot(course) == before  # submitted/, solutions/, config: untouched; nothing new
    assert not (course.parent / "outside.txt").exists()  # no file made through a planted link
    assert not any(p.name == "new_file.txt" for p in course.rglob("*"))
    victim = HOST["victim"].stat()
    assert (victim.st_mode & 0o777, HOST["victim"].read_text()) == (0o600, "only root may read this")
    assert host.connections == 0  # the host's socket was out of reach
    assert not any(p.is_symlink() for p in (course / "autograded").rglob("*"))
    statuses = {j.student: j.status for j in summary.jobs}
    assert statuses["honest"] == statuses["honest_wrong"] == statuses["big_file"] == "graded"
    assert statuses["junk_notebook"] == statuses["forged_timestamp"] == statuses["test_not_graded"] == "graded"
    assert statuses["loop_ignoring_interrupt"] == "timed out"
    assert statuses["corrupt_json"] == statuses["print_100mb"] == statuses["os_exit"] == "failed"
    assert statuses["linked_lesson"] == statuses["linked_student"] == statuses["many_cells"] == "failed"


def test_every_submission_has_a_journal_and_reasons_name_only_the_students_files(attacked):
    course, _, summary, lines = attacked
    for job in summary.jobs:
        journal = read_journal(course, LESSON, job.student)
        assert journal is not None and journal["status"] == job.status, job.student
        for reason in journal["reasons"]:
            assert "nlg-" not in reason and "/stage/" not in reason and str(course) not in reason, reason
    skipped = [line for line in lines if line.startswith("skipped submitted/")]
    assert len(skipped) == 1 and "not valid UTF-8" in skipped[0] and "\n" not in skipped[0]


def test_the_time_of_a_submission_is_never_the_students(attacked):
    course, *_ = attacked
    assert gradebook_snapshot(db(course), ["forged_timestamp"])[("forged_timestamp", LESSON)]["timestamp"] == "None"


def test_the_instructors_timestamps_are_recorded_and_a_malformed_file_is_one_line(tmp_path, reference):
    course = make_course(tmp_path / "course", dict(HONEST))
    times = tmp_path / "times.csv"
    times.write_text("student_id,lesson,timestamp\nhonest,99_attack,2026-12-01 09:30:00 UTC\n")
    grade(course, [LESSON], jobs=2, limits=LIMITS, progress=False, log=lambda *a: None, timestamps=times)
    graded = gradebook_snapshot(db(course))
    assert graded[("honest", LESSON)]["timestamp"].startswith("2026-12-01 09:30:00")
    assert graded[("honest_wrong", LESSON)]["timestamp"] == "None"
    assert {k: {**v, "timestamp": ""} for k, v in graded.items()} == {k: {**v, "timestamp": ""}
                                                                      for k, v in reference.items()}
    times.write_text("who,when\nhonest,yesterday\n")
    r = subprocess.run([sys.executable, "-m", "autograder", "grade", "--timestamps", str(times)], cwd=course,
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "student_id, lesson, timestamp" in r.stderr


def test_a_huge_notebook_costs_the_grader_little(attacked):
    _, _, summary, _ = attacked
    job = next(j for j in summary.jobs if j.student == "many_cells")
    assert job.record_seconds < 5, job.record_seconds


def test_feedback_teaches_without_hidden_tests_and_export_has_a_column_per_cell(attacked):
    course, *_ = attacked
    students = ["honest_wrong", "print_hidden_tests", "print_hidden_encoded", "script_in_feedback"]
    r = subprocess.run([sys.executable, "-m", "autograder", "feedback", *(f"--student={s}" for s in students)],
                       cwd=course, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    page = {s: (course / "feedback" / s / LESSON / f"{LESSON}.html").read_text() for s in students}
    html = page["honest_wrong"]
    assert "Likely mistake: the stored std uses the unbiased estimator" in html  # visible test: full diagnosis
    assert "thorough=True" not in html and "hidden tests: not shown" in html
    assert "failed: 0 of 4 points (CheckFailure)" in html  # the hidden test: the grader's verdict
    hidden = "check_standardize(Standardize, thorough=True)"
    encoded = ("B64:" + base64.b64encode(b"\nimport").decode()[:8], "REV:", hidden[::-1])  # what was printed
    for student in ("print_hidden_tests", "print_hidden_encoded"):  # code that ran after the hidden tests
        assert hidden not in page[student] and "output not shown" in page[student]
        assert not [text for text in encoded if text in page[student].replace("'REV:'", "")], student
    assert not live_script(page["script_in_feedback"])
    r = subprocess.run([sys.executable, "-m", "autograder", "export", "--to", "grades.csv"], cwd=course,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = {row["student_id"]: row for row in csv.DictReader((course / "grades.csv").open())}
    assert float(rows["honest"][LESSON]) == 8 and float(rows["honest"]["total"]) == 8
    assert float(rows["honest_wrong"][f"{LESSON}/{LESSON}/test_standardize_hidden"]) == 0
    assert float(rows["(max)"]["max_total"]) == 8


def live_script(html: str) -> list[str]:
    """Markup in a page that would run script: a tag with an ``on...=`` handler, a ``javascript:`` link, or a
    ``<script>`` element other than the page's own MathJax."""
    scripts = [m for m in re.findall(r"<script[^>]*>[^<]{0,200}", html, re.I) if "mathjax" not in m.lower()]
    return (re.findall(r"<[a-zA-Z][^>]*\son\w+\s*=[^>]*>", html) + scripts
            + re.findall(r"""(?:href|src)\s*=\s*["']?\s*javascript:""", html, re.I))


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
        if (b"autograder.worker\0--serve" in cmdline or b"/rt/k.json" in cmdline) and (
                ppid == 1 or not Path(f"/proc/{ppid}").exists()):
            found.append(int(proc.name))
    return found


def test_grade_errors_are_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "autograder", "grade", "42_nothing"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "unknown lesson" in r.stderr
