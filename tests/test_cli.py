"""The instructor's command line: errors are one line with exit status 2 and change nothing."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

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


def small_course(folder: Path, names=("00_inputs", "03_backward")) -> Path:
    for lesson in names:
        shutil.copytree(ROOT / "solutions" / lesson, folder / "solutions" / lesson)
        shutil.copytree(ROOT / "lessons" / lesson, folder / "lessons" / lesson)
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    shutil.copy(ROOT / "pyproject.toml", folder)
    return folder


def test_course_url_sets_every_setup_cell_and_pyproject_then_releases(tmp_path):
    course = small_course(tmp_path / "course")
    before = {p: nbformat.read(p, as_version=4) for p in sorted(course.glob("*/*/*.ipynb"))}
    url = "https://git.example.org/class-2027/normlab.git"
    r = run("course-url", url, cwd=course)
    assert r.returncode == 0, r.stderr
    assert run("course-url", cwd=course).stdout.strip() == url
    assert f'Repository = "{url}"' in (course / "pyproject.toml").read_text()
    for path, old in before.items():
        new = nbformat.read(path, as_version=4)
        setup = next(i for i, c in enumerate(new.cells) if c.cell_type == "code")
        assert f'COURSE_URL = "{url}"' in new.cells[setup].source, path
        assert new.cells[setup].source.replace(url, "X") == old.cells[setup].source.replace(
            "https://github.com/YOUR-ORG/normlab", "X"), f"{path}: more than the URL changed"
        assert [c.source for i, c in enumerate(new.cells) if i != setup] == \
               [c.source for i, c in enumerate(old.cells) if i != setup], f"{path}: another cell changed"


def test_course_url_refuses_what_git_cannot_clone_and_changes_nothing(tmp_path):
    course = small_course(tmp_path / "course")
    before = snapshot(course)
    for bad in ('https://x.org/a" ; import os; os.system("id") ; "', "normlab", "https://x.org/a b"):
        r = run("course-url", bad, cwd=course)
        assert r.returncode == 2 and "not a repository URL" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert snapshot(course) == before


def test_selfcheck_shows_progress_on_stderr_and_results_on_stdout(tmp_path):
    course = small_course(tmp_path / "course", names=("00_inputs",))
    shutil.rmtree(course / "lessons")  # no release: selfcheck reports it without grading, in a second
    r = run("selfcheck", cwd=course)
    assert r.returncode == 1
    assert "selfcheck" in r.stderr and "1/1" in r.stderr, r.stderr  # the bar, advanced past the lesson
    assert "00_inputs" in r.stdout and "FAIL" in r.stdout and "run release" in r.stdout
    quiet = run("selfcheck", "--quiet", cwd=course)
    assert quiet.returncode == 1 and quiet.stderr == "" and quiet.stdout == r.stdout
