"""Hostile submissions for ``python -m autograder grade``, graded together in one parallel run.

Everything here builds on a small lesson, ``99_attack`` (:func:`lesson`): the real ``Standardize`` exercise
of lesson 00 with its visible and hidden tests, and a one-point ``double`` exercise after it, so an attack
placed in the ``double`` answer cell must cost exactly that point and nothing before it.

Each attack is ``ATTACKS[student] = (build, zero_cells, reason)``: ``build(nb, folder, ctx)`` writes the
submission into ``folder`` starting from a correct notebook ``nb``; ``zero_cells`` are the graded cells that
must score zero (the others keep full marks); ``reason`` is a phrase that must appear in the recorded reason
(the grader's journal or the error output of a zeroed cell).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
LESSON = "99_attack"
STANDARDIZE = ("test_standardize", "test_standardize_hidden")
DOUBLE = ("test_double",)
POINTS = {"test_standardize": 3, "test_standardize_hidden": 4, "test_double": 1}


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def lesson() -> nbformat.NotebookNode:
    """The solution notebook of the attack lesson (answers, visible and hidden tests)."""
    source = nbformat.read(ROOT / "solutions" / "00_inputs" / "00_inputs.ipynb", as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in source.cells}
    cells = [
        new_code_cell("import autograder.checks  # before any answer: the tests keep trusted references\n"
                      "import torch\nfrom torch import nn", metadata=_meta("setup", locked=True)),
        new_code_cell(by_id["standardize"].source, metadata=_meta("standardize", solution=True)),
        new_code_cell(by_id["test_standardize"].source, metadata=_meta("test_standardize", grade=True, locked=True,
                                                                       points=3)),
        new_code_cell(by_id["test_standardize_hidden"].source,
                      metadata=_meta("test_standardize_hidden", grade=True, locked=True, points=4)),
        new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                      metadata=_meta("double", solution=True)),
        new_code_cell("assert double(3) == 6 and type(double(3)) is int\nprint('double ok')",
                      metadata=_meta("test_double", grade=True, locked=True, points=1)),
    ]
    for i, c in enumerate(cells):
        c.id = f"cell-{i}"
    nb = new_notebook(cells=cells)
    nb.metadata.kernelspec = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


WRONG = ("std = x.std(dims, unbiased=False)", "std = x.std(dims)")  # a real mistake the checks diagnose


def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _write(nb, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{LESSON}.ipynb")


def in_double(code: str):
    """An attack in the ``double`` answer cell, before a correct ``double``: costs ``test_double`` only if it
    stops the cell (it runs before the definition)."""
    def build(nb, folder, ctx):
        cell = _cell(nb, "double")
        cell.source = code.format(**ctx) + "\n" + cell.source
        _write(nb, folder)
    return build


def wrong_standardize_and(code: str):
    """A wrong ``Standardize`` plus code that tries to make its tests pass anyway."""
    def build(nb, folder, ctx):
        cell = _cell(nb, "standardize")
        cell.source = cell.source.replace(*WRONG) + "\n\n" + code.format(**ctx)
        _write(nb, folder)
    return build


def tests_changed(change):
    """A wrong ``Standardize`` and the test cells edited by ``change(nb)``."""
    def build(nb, folder, ctx):
        _cell(nb, "standardize").source = _cell(nb, "standardize").source.replace(*WRONG)
        change(nb)
        _write(nb, folder)
    return build


def _edit(nb):
    for gid in STANDARDIZE:
        _cell(nb, gid).source = "pass"


def _delete(nb):
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in STANDARDIZE]


def _duplicate(nb):
    out = []
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") in STANDARDIZE:
            fake = copy.deepcopy(c)
            fake.source = "pass"
            fake.id = c.id + "-x"
            out.append(fake)  # the fake copy first, so a naive "keep the first" would keep it
        out.append(c)
    nb.cells = out


def _retype(nb):
    for gid in STANDARDIZE:
        c = _cell(nb, gid)
        c.cell_type = "markdown"
        c.source = "nothing to run here"
        c.pop("outputs", None)
        c.pop("execution_count", None)


def corrupt(nb, folder, ctx):
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(nb)
    (folder / f"{LESSON}.ipynb").write_text(text[: len(text) // 2])


def missing(nb, folder, ctx):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("I forgot the notebook")


def meta_changed(change):
    """A correct notebook whose test cells' nbgrader metadata ``change(meta)`` edits."""
    def build(nb, folder, ctx):
        for gid in STANDARDIZE:
            change(_cell(nb, gid).metadata["nbgrader"])
        _write(nb, folder)
    return build


def unknown_graded_cell(nb, folder, ctx):
    nb.cells.append(new_code_cell("print('free points')", metadata=_meta("bonus", grade=True, locked=True,
                                                                          points=100)))
    nb.cells[-1].id = "cell-bonus"
    _write(nb, folder)


def linked_lesson(nb, folder, ctx):
    """``submitted/<student>/<lesson>`` is a link to another student's submission."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(Path(ctx["root"]) / "submitted" / "honest" / LESSON)


def linked_student(nb, folder, ctx):
    """``submitted/<student>`` is a link to another student's folder."""
    folder.parent.parent.mkdir(parents=True, exist_ok=True)
    folder.parent.symlink_to(Path(ctx["root"]) / "submitted" / "honest")


def bad_file_name(nb, folder, ctx):
    _write(nb, folder)
    with open(os.path.join(os.fsencode(folder), b"notes-\xff\xfe.txt"), "w") as f:
        f.write("a name that is not UTF-8")


def link_inside(nb, folder, ctx):
    _write(nb, folder)
    os.symlink(ctx["victim"], folder / "data.txt")


def forged_timestamp(nb, folder, ctx):
    _write(nb, folder)
    (folder / "timestamp.txt").write_text("2001-01-01 00:00:00.000000 UTC")


def junk_notebook(nb, folder, ctx):
    _write(nb, folder)
    (folder / "scratch.ipynb").write_text("{not a notebook")


def many_cells(nb, folder, ctx):
    nb.cells += [new_code_cell("pass") for _ in range(50_000)]
    _write(nb, folder)


def script_in_feedback(nb, folder, ctx):
    """Markup that would run script in the feedback page an instructor opens."""
    cell = _cell(nb, "standardize")
    cell.source += ("\n\nfrom IPython.display import HTML, Javascript, display\n"
                    "display(HTML('<img src=x onerror=\"alert(1)\"><svg onload=\"alert(2)\"></svg>'))\n"
                    "display(Javascript('alert(3)'))")
    nb.cells.insert(0, new_markdown_cell("<script>alert('xss')</script> [click](javascript:alert(4))"))
    nb.cells[0].id = "cell-md"
    _write(nb, folder)


def big_file(nb, folder, ctx):
    _write(nb, folder)
    with open(folder / "weights.bin", "wb") as f:  # sparse: 1 GB long, no disk used
        f.truncate(1 << 30)


ATTACKS = {
    "loop_forever": (in_double("while True:\n    pass"), DOUBLE, "KeyboardInterrupt"),
    "loop_ignoring_interrupt": (in_double("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                          "while True:\n    pass"), DOUBLE, "did not stop when interrupted"),
    "sys_exit": (in_double("import sys\nsys.exit(3)"), DOUBLE, "SystemExit"),
    "os_exit": (in_double("import os\nos._exit(0)"), DOUBLE, "kernel died"),
    "kill_kernel": (in_double("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"), DOUBLE, "kernel died"),
    "kill_grader": (in_double("import os, signal\nfor pid in range(1, 400):\n    try:\n"
                              "        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass"),
                    DOUBLE, "kernel died"),
    "memory_hog": (in_double("hog = []\nwhile True:\n    hog.append(bytearray(50_000_000))"), DOUBLE, "memory limit"),
    "print_100mb": (in_double("print('x' * 100_000_000)"), DOUBLE, "output limit"),
    "patch_allclose": (wrong_standardize_and(
        "torch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True\n"
        "torch.testing.assert_close = lambda *a, **k: None"), STANDARDIZE, "CheckFailure"),
    "patch_checks": (wrong_standardize_and(
        "import autograder.checks, autograder.checks.standardize as _s\n"
        "autograder.checks.check_standardize = lambda *a, **k: None\n_s.check_standardize = lambda *a, **k: None"),
        STANDARDIZE, "CheckFailure"),
    "eq_always_true": (wrong_standardize_and(
        "class _Yes(torch.Tensor):\n    def __eq__(self, other):\n        return True\n"
        "_forward = Standardize.forward\nStandardize.forward = lambda self, x: _forward(self, x).as_subclass(_Yes)"),
        STANDARDIZE, "CheckFailure"),
    "edit_tests": (tests_changed(_edit), STANDARDIZE, "CheckFailure"),
    "delete_tests": (tests_changed(_delete), STANDARDIZE, "deleted; scored zero"),
    "duplicate_tests": (tests_changed(_duplicate), STANDARDIZE, "CheckFailure"),
    "retype_tests": (tests_changed(_retype), STANDARDIZE, "CheckFailure"),
    "read_solutions": (in_double("print(open('{root}/solutions/{lesson}/{lesson}.ipynb').read()[:100])"),
                       DOUBLE, "FileNotFoundError"),
    "read_other_student": (in_double("print(open('{root}/submitted/honest/{lesson}/{lesson}.ipynb').read()[:100])"),
                           DOUBLE, "FileNotFoundError"),
    "read_gradebook": (in_double("print(open('{root}/gradebook.db', 'rb').read()[:100])"), DOUBLE,
                       "FileNotFoundError"),
    "write_outside": (in_double(
        "import os\nfor p in ['{root}/gradebook.db', '{root}/submitted/honest/{lesson}/{lesson}.ipynb',\n"
        "          '{root}/autograded/honest/{lesson}/{lesson}.ipynb', '{outside}', '{root}/new_file.txt']:\n"
        "    try:\n        os.makedirs(os.path.dirname(p), exist_ok=True)\n"
        "        open(p, 'w').write('owned')\n    except OSError:\n        pass\n"
        "open('{root}/solutions/{lesson}/{lesson}.ipynb', 'w').write('owned')"), DOUBLE, "Error"),
    "network": (in_double("import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=3)"), DOUBLE,
                "OSError"),
    "print_hidden_tests": (in_double("import glob\nprint(_ih, glob.glob('*'))"), (), ""),  # feedback must blank them
    "corrupt_json": (corrupt, STANDARDIZE + DOUBLE, "not a readable notebook"),
    "missing_notebook": (missing, STANDARDIZE + DOUBLE, "missing"),
    "big_file": (big_file, (), "file ignored"),
    # links the kernel plants where root later writes or changes permissions (nbgrader writes <lesson>.ipynb
    # and chmods every file of its output folder); they must stay links in a folder nobody reads
    "link_planted": (in_double(
        "import os\nfor _name, _target in [('{lesson}.ipynb', '{outside}'), ('victim.txt', '{victim}'),\n"
        "                       ('gradebook.db', '{root}/gradebook.db'), ('fifo', None)]:\n"
        "    try:\n        os.mkfifo(_name) if _target is None else os.symlink(_target, _name)\n"
        "    except OSError:\n        pass"), (), ""),
    "linked_lesson": (linked_lesson, STANDARDIZE + DOUBLE, "symbolic link; not graded"),
    "linked_student": (linked_student, STANDARDIZE + DOUBLE, "symbolic link; not graded"),
    "bad_file_name": (bad_file_name, (), "not valid UTF-8; ignored"),
    "link_inside": (link_inside, (), "data.txt: symbolic link; ignored"),
    "forged_timestamp": (forged_timestamp, (), "timestamp.txt: ignored"),
    "test_not_graded": (meta_changed(lambda m: m.update(grade=False)), STANDARDIZE, "metadata"),
    "test_as_solution": (meta_changed(lambda m: m.update(solution=True)), STANDARDIZE, "metadata"),
    "test_more_points": (meta_changed(lambda m: m.update(points=100)), STANDARDIZE, "metadata"),
    "unknown_graded_cell": (unknown_graded_cell, (), "the lesson does not have"),
    "print_hidden_encoded": (in_double(
        "import base64\n_src = '\\n'.join(_ih)\nprint('B64:' + base64.b64encode(_src.encode()).decode())\n"
        "print('REV:' + _src[::-1])"), (), ""),  # feedback must carry neither
    "script_in_feedback": (script_in_feedback, (), ""),
    "host_socket": (in_double("import socket\n_s = socket.socket(socket.AF_UNIX)\n_s.settimeout(3)\n"
                              "_s.connect('{socket}')\n_s.sendall(b'hello')"), DOUBLE, "FileNotFoundError"),
    "other_course_copy": (in_double("print(open('{copy}').read()[:100])"), DOUBLE, "FileNotFoundError"),
    "fork_bomb": (in_double("import os, time\n_n = 0\ntry:\n    for _n in range(5000):\n"
                            "        if os.fork() == 0:\n            time.sleep(120)\n            os._exit(0)\n"
                            "finally:\n    print('forked', _n)"), DOUBLE, "BlockingIOError"),
    "many_cells": (many_cells, STANDARDIZE + DOUBLE, "50006 cells"),
    "junk_notebook": (junk_notebook, (), "not a notebook of this lesson"),
}

HONEST = {
    "honest": lambda nb, folder, ctx: _write(nb, folder),
    "honest_wrong": tests_changed(lambda nb: None),
}
