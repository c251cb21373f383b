"""Wall time and peak memory of every solution notebook, run top to bottom as a learner would.

    python bench/notebooks.py [LESSON ...] [--markdown]

Each notebook executes in a fresh kernel (nbclient) from its own folder; a last cell added to the
executed copy reports the kernel's peak resident memory (``ru_maxrss``). Targets on 2 CPU cores: each
notebook <= 60 s (lesson 08 <= 120 s), the whole course <= 125 s, peak memory <= 2 GB.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.course import lessons, resolve, source_notebook  # noqa: E402

PEAK_CELL = "import resource as _r; print('__PEAK_KB__', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss)"
BUDGET_S = {"08": 120}
DEFAULT_BUDGET_S = 60
COURSE_BUDGET_S = 125  # half of what course-v3's 07_batchnorm notebook takes on the same machine


def run(path: Path, timeout: int = 900) -> tuple[float, float, str | None]:
    """(seconds, peak MB, error or None) for one notebook."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_CELL))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as e:
        error = str(e).strip().splitlines()[-1]
    seconds = time.perf_counter() - start
    peak = float("nan")
    for out in nb.cells[-1].get("outputs", []):
        if out.get("name") == "stdout" and "__PEAK_KB__" in out.get("text", ""):
            peak = int(out["text"].split()[-1]) / 1024
    return seconds, peak, error


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*")
    parser.add_argument("--markdown", action="store_true", help="print the README's table format")
    args = parser.parse_args(argv)
    chosen = resolve(ROOT, args.lessons) if args.lessons else lessons(ROOT)
    env = os.environ.get("NORMLAB_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, device {env}, "
          f"torch {torch.__version__}")
    rows, ok, total = [], True, 0.0
    for lesson in chosen:
        seconds, peak, error = run(source_notebook(ROOT, lesson))
        budget = BUDGET_S.get(lesson[:2], DEFAULT_BUDGET_S)
        within = error is None and seconds <= budget and peak <= 2048
        ok &= within
        total += seconds
        rows.append((lesson, seconds, peak, budget, "ok" if within else (error or "over budget")))
        print(f"{lesson:<22} {seconds:7.1f} s  {peak:7.0f} MB  (budget {budget} s)  {rows[-1][-1]}", flush=True)
    print(f"{'total':<22} {total:7.1f} s  (budget {COURSE_BUDGET_S} s)  "
          f"{'ok' if total <= COURSE_BUDGET_S else 'over budget'}")
    if args.markdown:
        print("\n| lesson | wall time (s) | peak memory (MB) | budget (s) |\n| --- | --- | --- | --- |")
        for lesson, seconds, peak, budget, _ in rows:
            print(f"| {lesson} | {seconds:.0f} | {peak:.0f} | {budget} |")
        print(f"| **total** | {total:.0f} | | {COURSE_BUDGET_S} |")
    return 0 if ok and total <= COURSE_BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
