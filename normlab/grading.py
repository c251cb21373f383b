"""Is this notebook being graded? nbgrader sets ``NBGRADER_EXECUTION`` while it executes a notebook.

Demonstration cells (long training runs, plots) check ``grading()`` and skip or shrink their work, so
that grading runs only the exercises and tests.
"""

import os


def grading() -> bool:
    """True while nbgrader executes the notebook (autograde or validate), False for a learner."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def scaled(full: int, when_grading: int) -> int:
    """``full`` for a learner, the much smaller ``when_grading`` while nbgrader grades."""
    return when_grading if grading() else full
