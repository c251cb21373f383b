"""Colab, simulated: a fresh virtual environment without the course on its path, a stub ``google.colab``
module loaded at kernel start (as Colab does), the course repository served from a git URL, and a
released lesson -- its answer cells filled from the solution -- executed from an unrelated folder.
The setup cell must clone the course, find the data and pass the visible tests, installing nothing."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.course import release_notebook, source_notebook

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

# What a learner's Colab already has (the course must not install torch itself): same pins as the course.
PINNED = ("torch", "numpy", "matplotlib", "tqdm", "fastcore", "ipykernel", "nbclient", "nbformat", "jupyter_client")

RUNNER = r'''
import json, sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                        extra_arguments=["--IPKernelApp.exec_lines=['import google.colab']"],
                        resources={"metadata": {"path": sys.argv[2]}})
client.execute()
nbformat.write(nb, sys.argv[1])
'''


def pins() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.split("==")[0].strip().lower().replace("-", "_") in PINNED]


def fill_answers(lesson: str) -> nbformat.NotebookNode:
    """The released notebook with each answer cell replaced by the solution's (what a learner would write)."""
    solution = {c.metadata["nbgrader"]["grade_id"]: c.source
                for c in nbformat.read(source_notebook(ROOT, lesson), as_version=4).cells
                if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(release_notebook(ROOT, lesson), as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            cell.source = solution[grade_id]  # its BEGIN/END SOLUTION markers are plain comments
    return nb


def test_released_lesson_runs_in_simulated_colab(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is needed to serve the repository")  # pragma: no cover
    venv = tmp_path / "colab-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", *pins()], check=True)
    stubs = tmp_path / "site" / "google" / "colab"
    stubs.mkdir(parents=True)
    (stubs / "__init__.py").write_text("# stand-in for Colab's google.colab package\n")
    (stubs.parent / "__init__.py").write_text("")
    site = subprocess.run([str(py), "-c", "import site; print(site.getsitepackages()[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "colab_stub.pth").write_text(str(tmp_path / "site") + "\n")

    lesson = "00_inputs"
    nb = fill_answers(lesson)
    setup = nb.cells[1]
    clone_dir = tmp_path / "content" / "normlab"
    assert '"/content/normlab"' in setup.source and "COURSE_URL = " in setup.source
    setup.source = (setup.source.replace('"/content/normlab"', json.dumps(str(clone_dir)))
                    .replace(setup.source.split("COURSE_URL = ")[1].split()[0], json.dumps(f"file://{ROOT}")))
    nb.cells.append(nbformat.v4.new_code_cell(
        "import normlab, torch; from normlab.data import find_data\n"
        "print('WHERE', normlab.__file__, find_data(), torch.__file__)"))
    elsewhere = tmp_path / "learner"
    elsewhere.mkdir()
    path = elsewhere / f"{lesson}.ipynb"
    nbformat.write(nb, path)
    (tmp_path / "runner.py").write_text(RUNNER)
    subprocess.run([str(py), str(tmp_path / "runner.py"), str(path), str(elsewhere)], check=True, timeout=900)

    done = nbformat.read(path, as_version=4)
    errors = [o for c in done.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"{errors[0]['ename']}: {errors[0]['evalue']}"
    text = "".join(o.get("text", "") for c in done.cells for o in c.get("outputs", []))
    assert "✓ Standardize: all" in text  # the visible tests passed
    where = next(line for line in text.splitlines() if line.startswith("WHERE")).split()
    assert where[1].startswith(str(clone_dir)) and where[2] == str(clone_dir / "data" / "mnist.npz")
    assert where[3].startswith(site)  # Colab's own torch, untouched
    assert not (elsewhere / "normlab").exists()
