"""``python -m autograder release``: generate the learner notebooks in ``lessons/`` from ``solutions/``."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .course import RELEASE, api, check_result, resolve, source_notebook, validate_source


def release(root: Path, names: list[str] | None = None, log=print) -> list[str]:
    """Release the named lessons (all by default) with nbgrader's ``generate_assignment``.

    Every source notebook is validated before anything is written, and a lesson whose generation fails
    gets its previous release back, so a failed release changes nothing.
    """
    chosen = resolve(root, names)
    for lesson in chosen:
        validate_source(source_notebook(root, lesson))
    nbgrader = api(root)
    for lesson in chosen:
        target = root / RELEASE / lesson
        with tempfile.TemporaryDirectory() as tmp:
            backup = Path(tmp) / lesson
            if target.exists():
                shutil.copytree(target, backup)
            try:
                check_result(nbgrader.generate_assignment(lesson, force=True, create=True), f"releasing {lesson}")
            except BaseException:
                if target.exists():
                    shutil.rmtree(target)
                if backup.exists():
                    shutil.copytree(backup, target)
                raise
        log(f"released {lesson} -> {target.relative_to(root)}/")
    return chosen
