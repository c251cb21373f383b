"""Benchmark: a synthetic class graded by serial `nbgrader autograde` and by `python -m autograder grade`.

The class: for every lesson with a release, one student submits the solution, one the untouched release,
and one each of the known-wrong answers in ``tests/mutants/<answer grade_id>/`` (the answer cell replaced by
the mutant). Both graders get their own copy of the course and grade the same submissions in the same run;
the script prints seconds per notebook for both, the ratio, the grader's own overhead per notebook (time
from starting a notebook's worker to its journal entry, minus the time its kernel ran) and whether the two
gradebooks are identical (scores per cell, notebook and student; row ids aside).

    python bench/grading.py [--jobs 2] [--limit N] [--lessons 00 02 ...]   # N: at most N students per lesson

Both courses start as an instructor's does after releasing: the lessons are in the gradebook.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.course import lessons, release_notebook, source_notebook  # noqa: E402
from autograder.grade import gradebook_snapshot, read_journal  # noqa: E402


def mutant_answer(solution_source: str, mutant: Path) -> str:
    """The answer cell for a mutant: the solution (as ``Solution``), then the mutant's code."""
    code = "\n".join(line for line in mutant.read_text().splitlines() if not line.startswith("from variants."))
    return solution_source + "\n\nSolution = " + solution_source.split("class ", 1)[1].split("(")[0] + "\n\n" + code


def build_class(course: Path, limit: int | None, only: list[str] | None = None) -> int:
    n = 0
    for lesson in lessons(ROOT):
        if only and not any(lesson.startswith(c) for c in only):
            continue
        if not release_notebook(ROOT, lesson).is_file():
            continue
        students = {"solution": source_notebook(ROOT, lesson), "release": release_notebook(ROOT, lesson)}
        nb = nbformat.read(source_notebook(ROOT, lesson), as_version=4)
        made = {}
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            folder = ROOT / "tests" / "mutants" / str(grade_id)
            is_class = "class " in cell.source  # mutants subclass the solution's class; function answers are skipped
            if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code" and folder.is_dir() \
                    and is_class:
                for mutant in sorted(folder.glob("*.py")):
                    copy = nbformat.read(source_notebook(ROOT, lesson), as_version=4)
                    target = next(c for c in copy.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
                    target.source = mutant_answer(cell.source, mutant)
                    made[f"mutant_{grade_id}_{mutant.stem}"] = copy
        chosen = list(students.items()) + list(made.items())
        for student, src in chosen[:limit]:
            dest = course / "submitted" / student / lesson
            dest.mkdir(parents=True)
            if isinstance(src, Path):
                shutil.copy(src, dest / f"{lesson}.ipynb")
            else:
                nbformat.write(src, dest / f"{lesson}.ipynb")
            n += 1
    return n


def copy_course(dst: Path) -> Path:
    dst.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", dst)
    for folder in ("solutions", "lessons"):
        shutil.copytree(ROOT / folder, dst / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return dst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="at most this many students per lesson")
    parser.add_argument("--lessons", nargs="*", help="lesson ids or prefixes (default: every released lesson)")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONWARNINGS="ignore",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))  # nbgrader runs alembic
    with tempfile.TemporaryDirectory(prefix="normlab-bench-") as tmp:
        serial, parallel = copy_course(Path(tmp) / "serial"), copy_course(Path(tmp) / "parallel")
        n = build_class(serial, args.limit, args.lessons)
        shutil.copytree(serial / "submitted", parallel / "submitted")
        graded = sorted({p.name for p in (serial / "submitted").glob("*/*")})
        for lesson in graded:  # the gradebook learns the lesson (release into a scratch folder: lessons/ stays)
            subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", lesson, "--force",
                            f"--CourseDirectory.release_directory={tmp}/release"], cwd=serial, env=env, check=True,
                           capture_output=True)
        shutil.copy(serial / "gradebook.db", parallel / "gradebook.db")  # both start as after the release
        load = os.getloadavg()[0]
        start = time.perf_counter()
        for lesson in graded:
            r = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", lesson], cwd=serial, env=env,
                               capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"serial nbgrader autograde failed:\n{r.stderr[-2000:]}")
        t_serial = time.perf_counter() - start
        start = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "autograder", "grade", "--jobs", str(args.jobs), "-q"],
                           cwd=parallel, env=env, capture_output=True, text=True)
        t_parallel = time.perf_counter() - start
        load = max(load, os.getloadavg()[0])
        if r.returncode != 0:
            sys.exit(f"autograder grade failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
        same = gradebook_snapshot(f"sqlite:///{serial}/gradebook.db") == gradebook_snapshot(
            f"sqlite:///{parallel}/gradebook.db")
        entries = [read_journal(parallel, p.name, p.parent.name) for p in (parallel / "submitted").glob("*/*")]
        overhead = sum(e["seconds"] - e["execute_seconds"] for e in entries) / len(entries)
        execute = sum(e["execute_seconds"] for e in entries) / len(entries)
    print(f"{n} notebooks ({', '.join(graded)}), {os.cpu_count()} cores, --jobs {args.jobs}")
    print(f"serial nbgrader autograde   {t_serial:7.1f} s   {t_serial / n:6.2f} s/notebook")
    print(f"autograder grade --jobs {args.jobs}   {t_parallel:7.1f} s   {t_parallel / n:6.2f} s/notebook")
    print(f"speed-up {t_serial / t_parallel:.2f}x (target >= 1.8x on 2 cores)")
    print(f"per notebook in the parallel run: kernel {execute:.2f} s, grader overhead {overhead:.2f} s (target <= 1 s)")
    print(f"gradebooks identical: {same}   (load average during the run: up to {load:.1f} on {os.cpu_count()} cores;"
          " wall-clock numbers are only meaningful on an otherwise idle machine)")
    print(json.dumps({"notebooks": n, "serial_s": round(t_serial, 2), "parallel_s": round(t_parallel, 2),
                      "ratio": round(t_serial / t_parallel, 3), "overhead_s": round(overhead, 3),
                      "identical": same, "load": round(load, 1)}))
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
