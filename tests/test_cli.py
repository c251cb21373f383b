"""The instructor's command line: errors are one line with exit status 2 and change nothing."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True, text=True)


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_unknown_lesson():
    r = run("release", "42_nothing")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "unknown lesson '42_nothing'" in r.stderr and "00_inputs" in r.stderr


def test_missing_course_root(tmp_path):
    r = run("selfcheck", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("error: no course found") and r.stderr.count("\n") == 1


def test_malformed_notebook_changes_nothing(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(ROOT / "solutions", course / "solutions")
    shutil.copytree(ROOT / "lessons", course / "lessons")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    bad = course / "solutions" / "00_inputs" / "00_inputs.ipynb"
    bad.write_text(bad.read_text()[:-200])  # truncated JSON
    before = snapshot(course)
    for verb in ("release", "selfcheck"):
        r = run(verb, cwd=course)
        assert r.returncode == 2, r.stderr
        assert "00_inputs.ipynb: not a readable notebook" in r.stderr and r.stderr.count("\n") == 1
    assert snapshot(course) == before


def test_lesson_by_number_and_help():
    r = run("--help")
    assert r.returncode == 0 and "release" in r.stdout and "selfcheck" in r.stdout
