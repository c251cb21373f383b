"""A failed check reads as its message in Jupyter: in a real kernel, a ``CheckFailure`` shows the diagnosis
without the checker's frames, and an error raised inside the learner's code still shows the learner's line.
nbgrader's fields (``ename``, ``evalue``) stay what grading reads."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.checks import CheckFailure

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # starts a kernel

SETUP = '''\
import torch
from torch import nn
from autograder.checks import check_layernorm, check_schedules

class LayerNorm(nn.Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(self.normalized_shape)) if elementwise_affine else None
        self.bias = nn.Parameter(torch.zeros(self.normalized_shape)) if elementwise_affine and bias else None

    def forward(self, x):
        dims = tuple(range(-len(self.normalized_shape), 0))
        var = x.var(dims, keepdim=True)  # the mistake: unbiased
        return (x - x.mean(dims, keepdim=True)) / torch.sqrt(var + self.eps) * self.weight + self.bias
'''
CELLS = {
    "mismatch": "check_layernorm(LayerNorm)",
    "stub": "class Stub(LayerNorm):\n    def forward(self, x):\n        raise NotImplementedError('write forward')\n"
            "check_layernorm(Stub)",
    "shape": "class Shape(LayerNorm):\n    def forward(self, x):\n        return x.mean(0) @ self.weight\n"
             "check_layernorm(Shape)",
    "function": "def sched_lin(a, b):\n    raise NotImplementedError('write sched_lin')\n"
                "check_schedules(sched_lin, None, None)",
}
CHECKER_FILES = re.compile(r"autograder|_core\.py|norms\.py|schedules\.py|_traceback\.py")


@pytest.fixture(scope="module")
def errors():
    """The error output of each cell, its traceback as the learner sees it (colours removed)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SETUP)] +
                                  [nbformat.v4.new_code_cell(src) for src in CELLS.values()])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    assert not [o for o in nb.cells[0].outputs if o.output_type == "error"], nb.cells[0].outputs
    out = {}
    for name, cell in zip(CELLS, nb.cells[1:]):
        (error,) = [o for o in cell.outputs if o.output_type == "error"]
        out[name] = error, re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback))
    return out


def test_a_failed_check_shows_its_message_without_the_checkers_frames(errors):
    error, text = errors["mismatch"]
    assert error.ename == "CheckFailure" and "Likely mistake: the variance is the unbiased estimate" in error.evalue
    assert text.startswith("CheckFailure: LayerNorm, case [") and "largest error" in text and "Fix: " in text
    assert not CHECKER_FILES.search(text) and "Traceback" not in text, text


@pytest.mark.parametrize("name, line", [("stub", "raise NotImplementedError('write forward')"),
                                        ("shape", "return x.mean(0) @ self.weight"),
                                        ("function", "raise NotImplementedError('write sched_lin')")])
def test_an_error_in_the_learners_code_shows_the_learners_line(errors, name, line):
    error, text = errors[name]
    assert error.ename == "CheckFailure" and " raised " in error.evalue
    assert line in text and "Traceback (most recent call last)" in text, text  # where the learner's code failed
    assert text.rstrip().endswith(error.evalue.splitlines()[-1]), text  # ... then the check's message
    assert not CHECKER_FILES.search(text), text
    assert "module.py" not in text, text  # nor torch's Module.__call__ plumbing between the check and the layer


def test_outside_ipython_the_failure_renders_as_one_plain_line():
    failure = CheckFailure("LayerNorm, case [x]: wrong")
    assert failure._render_traceback_() == ["CheckFailure: LayerNorm, case [x]: wrong"]
