"""How often a known-wrong answer gets the right named mistake: every mutant of ``tests/mutants`` run by its check.

Each mutant runs through its ``CHECK``, visible (``thorough=False``) and then thorough (``thorough=True``). It is
*rejected* when either level fails it, *named right* when every level that fails it names its ``EXPECT``
(the catalogue key the corpus says it makes), *named wrong* when a level names another key, *unnamed* when a
level fails it without a name (and none names a wrong one). The share named right is what a class sees in
``python -m autograder report``: a mistake with a name and a fix, or a bare "differs from the reference".

    python bench/mistakes.py                         # the whole corpus, per family and in total
    python bench/mistakes.py tests/mutants/layernorm # some families or files only
    python bench/mistakes.py --verbose               # also list every mutant not named right, and why
    python bench/mistakes.py --seed 1                # thorough level on fixed inputs (default: fresh ones)

Exit status 0 (this reports a number; the corpus tests in tests/test_corpus.py enforce it).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))  # mutants may build on a variant: ``from variants.x.solution import``

MUTANTS = ROOT / "tests" / "mutants"
VERDICTS = ("named right", "named wrong", "unnamed", "not rejected", "check crashed")


def load(path: Path):
    spec = importlib.util.spec_from_file_location(f"bench_mutant_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_level(check, answer, thorough: bool, seed) -> tuple[str, str | None, str]:
    """("passed" | "failed" | "crashed", the named key, the first line of the message)."""
    from autograder.checks import CheckFailure

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            check(answer, thorough=thorough, seed=seed if thorough else None)
    except CheckFailure as failure:
        return "failed", failure.mistake, str(failure).splitlines()[0]
    except AssertionError as failure:  # a check's own assert: rejected, never named
        return "failed", None, str(failure).splitlines()[0] if str(failure) else "AssertionError"
    except Exception as e:  # noqa: BLE001 - a bug of the check, reported as such
        return "crashed", None, f"{type(e).__name__}: {e}"
    return "passed", None, ""


def judge(path: Path, seed) -> tuple[str, list]:
    from autograder import checks

    mutant = load(path)
    check = getattr(checks, mutant.CHECK)
    levels = [run_level(check, mutant.ANSWER, thorough, seed) for thorough in (False, True)]
    failed = [lv for lv in levels if lv[0] == "failed"]
    if any(lv[0] == "crashed" for lv in levels):
        return "check crashed", levels
    if not failed:
        return "not rejected", levels
    if all(key == mutant.EXPECT for _, key, _ in failed):
        return "named right", levels
    if any(key is not None for _, key, _ in failed):
        return "named wrong", levels
    return "unnamed", levels


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="*", help="mutant files or folders (default: all of tests/mutants)")
    p.add_argument("--seed", type=int, default=None, help="seed of the thorough level (default: fresh inputs)")
    p.add_argument("--verbose", "-v", action="store_true", help="list the mutants not named right")
    args = p.parse_args(argv)
    paths = []
    for given in args.paths or [str(MUTANTS)]:
        given = Path(given).resolve()
        paths += sorted(given.rglob("*.py")) if given.is_dir() else [given]
    table: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(VERDICTS, 0))
    misses = []
    start = time.perf_counter()
    for path in paths:
        expect = load(path).EXPECT
        verdict, levels = judge(path, args.seed)
        table[path.parent.name][verdict] += 1
        if verdict != "named right":
            misses.append((path, expect, verdict, levels))
    print(f"{'family':<16} {'mutants':>7} {'rejected':>8} {'right':>6} {'wrong':>6} {'unnamed':>7} {'share':>6}")
    total = dict.fromkeys(VERDICTS, 0)
    for family in sorted(table):
        row = table[family]
        n = sum(row.values())
        rejected = row["named right"] + row["named wrong"] + row["unnamed"]
        print(f"{family:<16} {n:>7} {rejected:>8} {row['named right']:>6} {row['named wrong']:>6} "
              f"{row['unnamed']:>7} {row['named right'] / n:>6.0%}")
        for k in VERDICTS:
            total[k] += row[k]
    n = sum(total.values())
    rejected = total["named right"] + total["named wrong"] + total["unnamed"]
    print(f"{'total':<16} {n:>7} {rejected:>8} {total['named right']:>6} {total['named wrong']:>6} "
          f"{total['unnamed']:>7} {total['named right'] / max(n, 1):>6.0%}")
    if total["not rejected"] or total["check crashed"]:
        print(f"not rejected: {total['not rejected']}, check crashed: {total['check crashed']}")
    print(f"named right: {total['named right']} of {n} ({total['named right'] / max(n, 1):.1%}); "
          f"{time.perf_counter() - start:.0f} s")
    if args.verbose and misses:
        print("\nnot named right:")
        for path, expect, verdict, levels in misses:
            print(f"  {path.parent.name}/{path.stem}: {verdict} (expected {expect})")
            for name, (state, key, line) in zip(("visible", "thorough"), levels):
                print(f"    {name}: {state}, {key}: {line[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
