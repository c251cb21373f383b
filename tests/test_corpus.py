"""The corpus that proves the checks: every mutant fails with its labelled diagnosis, every variant passes.

A corpus file defines ``ANSWER`` (the class or function a learner would write), ``CHECK`` (the name of the
check in ``autograder.checks``) and, for a mutant, ``EXPECT`` (the catalogue key its failure must name)
and ``CAUGHT_BY`` ("visible": the quick visible check already catches it; "hidden": only the thorough one).
"""

import importlib.util
from pathlib import Path

import pytest

from autograder import checks
from autograder.checks import CATALOGUE, CheckFailure

HERE = Path(__file__).parent
MUTANTS = sorted((HERE / "mutants").rglob("*.py"))
VARIANTS = sorted((HERE / "variants").rglob("*.py"))


def load(path: Path):
    spec = importlib.util.spec_from_file_location(f"corpus_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ident(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


@pytest.mark.parametrize("path", MUTANTS, ids=ident)
def test_mutant_fails_with_its_diagnosis(path):
    mutant = load(path)
    check = getattr(checks, mutant.CHECK)  # importing the check registers its mistakes
    assert mutant.EXPECT in CATALOGUE, f"{path.name}: EXPECT {mutant.EXPECT!r} is not in the catalogue"
    assert mutant.CAUGHT_BY in ("visible", "hidden")
    levels = [False, True] if mutant.CAUGHT_BY == "visible" else [True]
    for thorough in levels:
        with pytest.raises(CheckFailure) as failure:
            check(mutant.ANSWER, thorough=thorough)
        assert failure.value.mistake == mutant.EXPECT, (
            f"thorough={thorough}: expected diagnosis {mutant.EXPECT!r}, got {failure.value.mistake!r}:\n"
            f"{failure.value}")
        message = str(failure.value)
        assert CATALOGUE[mutant.EXPECT].fix in message and "case [" in message


@pytest.mark.parametrize("path", VARIANTS, ids=ident)
@pytest.mark.parametrize("thorough", [False, True], ids=["visible", "hidden"])
def test_variant_passes(path, thorough, capsys):
    variant = load(path)
    getattr(checks, variant.CHECK)(variant.ANSWER, thorough=thorough)
    assert "passed" in capsys.readouterr().out


def test_every_catalogued_mistake_has_a_mutant():
    checks.load_all()
    expected = {load(p).EXPECT for p in MUTANTS}
    missing = sorted(set(CATALOGUE) - expected)
    assert not missing, f"catalogued mistakes with no mutant proving their diagnosis: {missing}"
