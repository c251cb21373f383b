"""Conventions every lesson follows, and nothing a learner receives gives an answer away."""

import re
import tomllib
from pathlib import Path

import nbformat
import pytest

from autograder.course import lessons, release_notebook, source_notebook

ROOT = Path(__file__).resolve().parents[1]
LESSONS = lessons(ROOT)
MARKERS = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def test_there_are_lessons():
    assert LESSONS and LESSONS[0] == "00_inputs"


@pytest.mark.parametrize("lesson", LESSONS)
def test_committed_without_outputs(lesson):
    for path in (source_notebook(ROOT, lesson), release_notebook(ROOT, lesson)):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path} has outputs"


def setup_bootstrap(path: Path) -> str:
    first = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    return first.source.split("import autograder.checks")[0]


def test_setup_cell_is_the_same_everywhere_and_points_at_the_course_repository():
    url = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    boots = {lesson: setup_bootstrap(source_notebook(ROOT, lesson)) for lesson in LESSONS}
    assert len(set(boots.values())) == 1, "the Colab bootstrap differs between lessons"
    boot = boots[LESSONS[0]]
    assert '"google.colab" in sys.modules' in boot and f'COURSE_URL = "{url}"' in boot
    assert "pip install" not in boot  # Colab's own torch is left alone


@pytest.mark.parametrize("lesson", LESSONS)
def test_grading_structure(lesson):
    cells = nbformat.read(source_notebook(ROOT, lesson), as_version=4).cells
    tests = [c for c in cells if nbgrader(c).get("grade") and not nbgrader(c).get("solution")]
    written = [c for c in cells if nbgrader(c).get("grade") and nbgrader(c).get("solution")]
    assert tests and all(nbgrader(c).get("points", 0) > 0 for c in tests)
    assert any("### BEGIN HIDDEN TESTS" in c.source for c in tests), "no hidden tests"
    assert written and all(c.cell_type == "markdown" for c in written), "no manually graded written answer"
    assert all(nbgrader(c).get("locked") for c in tests)


@pytest.mark.parametrize("lesson", LESSONS)
def test_nothing_given_to_learners_contains_a_solution_or_hidden_test(lesson):
    source = nbformat.read(source_notebook(ROOT, lesson), as_version=4)
    public = "\n".join(MARKERS.sub("", c.source) for c in source.cells)
    secret_lines = {line.strip() for cell in source.cells for _, block in MARKERS.findall(cell.source)
                    for line in block.splitlines()
                    if len(line.strip()) >= 16 and not line.strip().startswith("#") and line.strip() not in public}
    assert secret_lines
    released = "\n".join(c.source for c in nbformat.read(release_notebook(ROOT, lesson), as_version=4).cells)
    package = "\n".join(p.read_text() for p in (ROOT / "normlab").rglob("*.py"))
    for line in secret_lines:
        assert line not in released, f"lessons/{lesson} contains solution/hidden line: {line}"
        assert line not in package, f"normlab contains solution line: {line}"
    assert "BEGIN SOLUTION" not in released and "HIDDEN TESTS" not in released
    assert "YOUR CODE HERE" in released and "YOUR ANSWER HERE" in released


@pytest.mark.parametrize("lesson", LESSONS)
def test_written_answers_reach_the_learner_as_one_prompt(lesson):
    """nbgrader writes its own "YOUR ANSWER HERE" where the solution was: the source must not add a second."""
    release = nbformat.read(release_notebook(ROOT, lesson), as_version=4).cells
    written = [c for c in release if c.cell_type == "markdown" and nbgrader(c).get("solution")]
    assert written and all(c.source.strip() == "YOUR ANSWER HERE" for c in written), \
        [c.source for c in written]
