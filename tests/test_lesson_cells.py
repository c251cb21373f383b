"""Every mutant of the corpus fails *in the lessons' own test cells* with its diagnosis.

For each check a lesson's test cells call (``check_x(Answer)`` visible, ``check_x(Answer, thorough=True)``
hidden), the exact call written in the cell is run with the learner's name bound to a known-wrong answer.
"""

import re
from pathlib import Path

import nbformat
import pytest

from autograder.checks import CheckFailure
from autograder.course import lessons, source_notebook
from test_corpus import MUTANTS, ident, load

ROOT = Path(__file__).resolve().parents[1]
CALL = re.compile(r"^(check_\w+)\(([\w, ]+?)(, thorough=True)?\)$", re.M)


def calls() -> dict[tuple[str, bool], tuple[str, str, str]]:
    """(check, hidden?) -> (lesson, answer names, source line) for every check call in a test cell."""
    found = {}
    for lesson in lessons(ROOT):
        for cell in nbformat.read(source_notebook(ROOT, lesson), as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                for m in CALL.finditer(cell.source):
                    found[(m.group(1), bool(m.group(3)))] = (lesson, m.group(2), m.group(0))
    return found


CALLS = calls()


def test_every_check_is_called_visibly_and_hidden_by_a_lesson():
    used = {check for check, _ in CALLS}
    for check in used:
        assert (check, False) in CALLS and (check, True) in CALLS, f"{check}: needs a visible and a hidden call"


@pytest.mark.parametrize("path", MUTANTS, ids=ident)
def test_mutant_fails_in_the_lesson_cell(path):
    mutant = load(path)
    hidden = mutant.CAUGHT_BY == "hidden"
    if (mutant.CHECK, hidden) not in CALLS:
        pytest.fail(f"no lesson test cell calls {mutant.CHECK}{' (hidden)' if hidden else ''}")
    lesson, names, line = CALLS[(mutant.CHECK, hidden)]
    names = [n.strip() for n in names.split(",")]
    # a check of several functions takes them as one tuple in the corpus
    namespace = dict(zip(names, mutant.ANSWER)) if len(names) > 1 else {names[0]: mutant.ANSWER}
    exec(f"from autograder.checks import {mutant.CHECK}", namespace)
    with pytest.raises(CheckFailure) as failure:
        exec(line, namespace)
    assert failure.value.mistake == mutant.EXPECT, f"{lesson}: {line}\n{failure.value}"
