"""``python -m autograder execute``: run the solution notebooks top to bottom, headless, and time them.

This is how a server or a check runs the course without a browser: each notebook executes in a fresh
kernel from its own folder, exactly as a learner's "Run All" would, and the executed copy (with its
outputs and plots) is written to ``runs/`` for inspection.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat

from .course import resolve, source_notebook, validate_source


def execute_notebook(path: Path, out: Path, timeout: int = 600) -> tuple[float, str | None]:
    """Execute ``path`` into ``out``; returns (seconds, first error or None)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as e:
        error = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip().splitlines()[-1]  # drop ANSI colours
    except Exception as e:  # noqa: BLE001 - a dead kernel, a timeout: report and go on
        error = f"{type(e).__name__}: {e}"
    seconds = time.perf_counter() - start
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return seconds, error


def execute(root: Path, names: list[str] | None = None, out: str = "runs", log=print) -> bool:
    chosen = resolve(root, names)
    for lesson in chosen:
        validate_source(source_notebook(root, lesson))
    ok, total = True, 0.0
    log(f"{'lesson':<22} {'seconds':>8}  result")
    for lesson in chosen:
        target = root / out / f"{lesson}.ipynb"
        seconds, error = execute_notebook(source_notebook(root, lesson), target)
        total += seconds
        ok &= error is None
        log(f"{lesson:<22} {seconds:>8.1f}  {'ok' if error is None else 'ERROR: ' + error}")
    log(f"{'total':<22} {total:>8.1f}  executed notebooks in {out}/")
    return ok
