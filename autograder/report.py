"""``python -m autograder report``: what the class got wrong, for the instructor (``reports/``).

Per lesson and graded cell: how many submissions were graded, the distribution of their scores and how many
lost points; the cells most often failed; and per exercise how many submissions made each named mistake of
the checks' catalogue (``autograder.checks.CATALOGUE``), with its fix, and which failed without one. Written
as one self-contained HTML page (plots embedded as PNG) and two CSV files.

Scores come from the gradebook through nbgrader's ``Gradebook`` (any ``db_url``: SQLite, PostgreSQL). The
mistakes come from the graded notebooks (``autograded/<student>/<lesson>/``): a failed check leaves its
diagnosis there as a display_data output of type ``DIAGNOSIS_MIME`` holding the catalogue key (see
``CheckFailure._render_traceback_``), so nothing is parsed out of the messages. The student's kernel could
forge such an output: that changes the report's counts, never a score. Everything read from a notebook is
therefore validated and escaped before it reaches the page.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .checks._core import DIAGNOSIS_MIME
from .course import CourseError, load_config, resolve, source_notebook
from .journal import read_journal

KEY = re.compile(r"[A-Za-z0-9_.-]{1,100}")  # what a catalogue key looks like; anything else is ignored
TOP_FAILED = 5  # cells listed as most often failed, per lesson

CELL_COLUMNS = ["lesson", "notebook", "cell", "kind", "students", "mean_score", "max_score", "failed",
                "failed_without_named_mistake", "awaiting_manual_grade", "score_counts"]
MISTAKE_COLUMNS = ["lesson", "exercise", "cell", "mistake", "name", "count", "total", "fix", "students"]
UNNAMED = "failed without a named mistake"


# ---------------------------------------------------------------------------------------------------------
# What was graded.
@dataclass
class Outcome:
    """One submission's result on one graded cell."""

    student: str
    score: float | None  # None: a written answer not graded by hand yet
    max_score: float
    mistakes: list[str] = field(default_factory=list)  # catalogue keys the cell's failed checks named
    error: str = ""  # the first error the cell raised (its name), or why the submission was not run

    @property
    def failed(self) -> bool:
        return self.score is not None and self.score < self.max_score


@dataclass
class GradedCell:
    notebook: str
    name: str
    max_score: float
    kind: str  # "code" (a test cell) or "written" (graded by hand)
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def graded(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.score is not None]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed]

    @property
    def unnamed(self) -> list[Outcome]:
        return [o for o in self.failed if not o.mistakes]


@dataclass
class Lesson:
    name: str
    note: str = ""  # why there is nothing to show, when there is nothing
    cells: list[GradedCell] = field(default_factory=list)
    totals: dict[str, float] = field(default_factory=dict)  # student -> lesson score
    max_total: float = 0.0
    missing: list[str] = field(default_factory=list)  # students in the gradebook without a submission
    statuses: Counter = field(default_factory=Counter)  # the grader's journal: graded / failed / timed out


def open_gradebook(root: Path):
    """nbgrader's ``Gradebook`` at the course's ``db_url`` (None when a SQLite gradebook does not exist yet:
    opening it would create an empty one), and the course's ``CourseDirectory``."""
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=load_config(root))
    url = coursedir.db_url
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        return None, coursedir
    return Gradebook(url, coursedir.course_id), coursedir


def cell_order(root: Path, lesson: str, notebook: str) -> list[str]:
    """The graded cells' ids in the order of the lesson's source notebook (the gradebook keeps no order)."""
    try:
        cells = json.loads(source_notebook(root, lesson).with_name(f"{notebook}.ipynb").read_text())["cells"]
        return [c["metadata"]["nbgrader"]["grade_id"] for c in cells
                if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def read_diagnoses(path: Path) -> dict[str, tuple[list[str], str]] | None:
    """Per graded cell of an autograded notebook: the catalogue keys its failed checks published, and the name
    of the first error it raised. None when the notebook is not there or not readable."""
    try:
        nb = json.loads(path.read_text())
        cells = nb["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    out = {}
    for cell in cells if isinstance(cells, list) else []:
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
        if not isinstance(meta, dict) or not meta.get("grade") or not isinstance(meta.get("grade_id"), str):
            continue
        keys, error = [], ""
        for output in cell.get("outputs", []) if isinstance(cell.get("outputs"), list) else []:
            if not isinstance(output, dict):
                continue
            if output.get("output_type") == "error" and not error:
                error = str(output.get("ename", "error"))[:100]
            diagnosis = (output.get("data") or {}).get(DIAGNOSIS_MIME) if output.get("output_type") in (
                "display_data", "execute_result") else None
            key = diagnosis.get("mistake") if isinstance(diagnosis, dict) else None
            if isinstance(key, str) and KEY.fullmatch(key) and key not in keys:
                keys.append(key)
        out[meta["grade_id"]] = (keys, error)
    return out


def collect(gb, coursedir, root: Path, name: str) -> Lesson:
    """Everything the report shows about one lesson, from the gradebook and the graded notebooks."""
    from nbgrader.api import MissingEntry

    lesson = Lesson(name)
    if gb is None:
        lesson.note = "no gradebook yet: nothing is graded (python -m autograder grade)"
        return lesson
    try:
        assignment = gb.find_assignment(name)
    except MissingEntry:
        lesson.note = "not in the gradebook: not released or graded yet"
        return lesson
    cells = {}
    for notebook in sorted(assignment.notebooks, key=lambda n: n.name):
        order = cell_order(root, name, notebook.name)
        for gc in sorted(notebook.grade_cells, key=lambda c: (order.index(c.name) if c.name in order else len(order),
                                                              c.name)):
            cells[(notebook.name, gc.name)] = GradedCell(notebook.name, gc.name, gc.max_score,
                                                         "code" if gc.cell_type == "code" else "written")
    lesson.cells = list(cells.values())
    lesson.max_total = sum(c.max_score for c in lesson.cells)
    submissions = sorted(gb.assignment_submissions(name), key=lambda s: s.student_id)
    if not submissions:
        lesson.note = "nothing graded yet: no submission in the gradebook"
        return lesson
    for sub in submissions:
        student = sub.student_id
        lesson.totals[student] = sub.score
        journal = read_journal(root, name, student)
        journal = journal if isinstance(journal, dict) else {}
        lesson.statuses[str(journal.get("status", "graded"))] += 1
        reasons = journal.get("reasons") if isinstance(journal.get("reasons"), list) else []
        why = _short(str(reasons[0]), 200) if reasons else "not run"
        for notebook in sub.notebooks:
            folder = Path(coursedir.format_path(coursedir.autograded_directory, student, name))
            found = read_diagnoses(folder / f"{notebook.name}.ipynb")
            for g in notebook.grades:
                cell = cells.get((notebook.name, g.name))
                if cell is None:
                    continue
                pending = g.manual_score is None and g.needs_manual_grade
                keys, error = (found or {}).get(g.name, ([], ""))
                if found is None:
                    error = f"{journal.get('status', 'not graded')}: {why}"
                cell.outcomes.append(Outcome(student, None if pending else g.score, cell.max_score, keys, error))
    submitted = set(lesson.totals)
    lesson.missing = sorted(s.id for s in gb.students if s.id not in submitted)
    return lesson


# ---------------------------------------------------------------------------------------------------------
# Counting.
def catalogue() -> dict:
    """The checks' catalogue of named mistakes, every check module loaded."""
    from .checks import CATALOGUE, load_all

    load_all()
    return CATALOGUE


def score_counts(cell: GradedCell) -> Counter:
    return Counter(o.score for o in cell.graded)


def cell_rows(lesson: Lesson) -> list[dict]:
    rows = []
    for c in lesson.cells:
        graded = c.graded
        rows.append({
            "lesson": lesson.name, "notebook": c.notebook, "cell": c.name, "kind": c.kind,
            "students": len(graded),
            "mean_score": round(sum(o.score for o in graded) / len(graded), 3) if graded else "",
            "max_score": c.max_score, "failed": len(c.failed), "failed_without_named_mistake": len(c.unnamed),
            "awaiting_manual_grade": len(c.outcomes) - len(graded),
            "score_counts": "; ".join(f"{_num(s)}: {n}" for s, n in sorted(score_counts(c).items())),
        })
    return rows


def mistake_rows(lesson: Lesson, known: dict) -> list[dict]:
    """One row per named mistake and exercise (submissions that made it in any of the exercise's cells), then
    one row per graded cell with failures that no check named."""
    total = len(lesson.totals)
    hits: dict[str, dict] = {}
    for c in lesson.cells:
        for o in c.failed:
            for key in o.mistakes:
                hit = hits.setdefault(key, {"cells": [], "students": set()})
                hit["students"].add(o.student)
                if c.name not in hit["cells"]:
                    hit["cells"].append(c.name)
    rows = []
    for key, hit in hits.items():
        m = known.get(key)
        rows.append({
            "lesson": lesson.name, "exercise": m.layer if m else "", "cell": "; ".join(hit["cells"]),
            "mistake": key, "name": m.name if m else "(not in the catalogue)", "count": len(hit["students"]),
            "total": total, "fix": m.fix if m else "", "students": "; ".join(sorted(hit["students"])),
        })
    rows.sort(key=lambda r: (r["exercise"], -r["count"], r["mistake"]))
    for c in lesson.cells:
        if c.unnamed:
            rows.append({"lesson": lesson.name, "exercise": "", "cell": c.name, "mistake": "", "name": UNNAMED,
                         "count": len(c.unnamed), "total": len(c.graded), "fix": "",
                         "students": "; ".join(sorted(o.student for o in c.unnamed))})
    return rows


def most_failed(lesson: Lesson, n: int = TOP_FAILED) -> list[GradedCell]:
    failing = [c for c in lesson.cells if c.failed]
    return sorted(failing, key=lambda c: (-len(c.failed) / max(len(c.graded), 1), -len(c.failed)))[:n]


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


# ---------------------------------------------------------------------------------------------------------
# Plots (matplotlib's object API: no pyplot state, no display needed).
def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plot_totals(lesson: Lesson) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.2))
    ax = fig.add_subplot()
    scores = list(lesson.totals.values())
    top = max(lesson.max_total, max(scores, default=0), 1)
    # one bar per whole point while that stays readable (scores are mostly whole numbers), else 20 bins
    bins = [i - 0.5 for i in range(int(top) + 2)] if top <= 40 else 20
    ax.hist(scores, bins=bins, range=None if top <= 40 else (0, top), color="#4c72b0", edgecolor="white")
    ax.set_title(f"{lesson.name}: lesson scores ({len(scores)} submissions)")
    ax.set_xlabel(f"score (of {_num(float(lesson.max_total))})")
    ax.set_ylabel("submissions")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def plot_cells(lesson: Lesson) -> str:
    """Per graded cell, its submissions split into full marks, part marks, zero and not graded yet; the
    cells most often failed at the top."""
    from matplotlib.figure import Figure

    cells = sorted(lesson.cells, key=lambda c: (len(c.failed) / max(len(c.graded), 1), c.name))
    parts = [("full marks", "#55a868", lambda o: o.score is not None and o.score >= o.max_score),
             ("part marks", "#dd8452", lambda o: o.score is not None and 0 < o.score < o.max_score),
             ("zero", "#c44e52", lambda o: o.score is not None and o.score <= 0 < o.max_score),
             ("awaiting manual grading", "#b0b0b0", lambda o: o.score is None)]
    fig = Figure(figsize=(7.5, 0.45 * len(cells) + 1.4))
    ax = fig.add_subplot()
    left = [0] * len(cells)
    for label, colour, test in parts:
        counts = [sum(map(test, c.outcomes)) for c in cells]
        if any(counts):
            ax.barh([c.name for c in cells], counts, left=left, color=colour, label=label)
            left = [a + b for a, b in zip(left, counts)]
    ax.set_title(f"{lesson.name}: score distribution per graded cell (most often failed at the top)")
    ax.set_xlabel("submissions")
    ax.set_ylabel("graded cell")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=4, fontsize="small", frameon=False)
    return _png(fig)


def plot_mistakes(lesson: Lesson, rows: list[dict]) -> str | None:
    named = [r for r in rows if r["mistake"]]
    if not named:
        return None
    from matplotlib.figure import Figure

    named = sorted(named, key=lambda r: r["count"])
    labels = [textwrap.fill(_short(f"{r['exercise'] or '?'}: {r['name']}", 90), 45) for r in named]
    fig = Figure(figsize=(8, 0.6 * len(named) + 1.4))
    ax = fig.add_subplot()
    ax.barh(range(len(named)), [r["count"] for r in named], color="#8172b3")
    ax.set_yticks(range(len(named)), labels)
    ax.set_title(f"{lesson.name}: named mistakes (of {named[0]['total']} submissions)")
    ax.set_xlabel("submissions that made the mistake")
    ax.set_ylabel("exercise: mistake")
    ax.xaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# ---------------------------------------------------------------------------------------------------------
# The page.
CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1150px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #666; } .plots img { max-width: 100%; margin: 0.3em 1em 0.3em 0; vertical-align: top; }
.students { color: #555; font-size: 0.9em; } code { background: #f4f4f4; padding: 0 0.2em; }
"""


def _e(x) -> str:
    return html.escape(_num(x) if isinstance(x, float) else str(x))


def _table(header: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class=n>{_e(v)}</td>" if i in numeric else f"<td>{v}</td>"
                                    for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def lesson_html(lesson: Lesson, cells: list[dict], mistakes: list[dict]) -> str:
    parts = [f"<h2 id='{_e(lesson.name)}'>{_e(lesson.name)}</h2>"]
    if lesson.note:
        return parts[0] + f"<p class=note>{_e(lesson.note)}.</p>"
    n = len(lesson.totals)
    mean = sum(lesson.totals.values()) / n
    status = ", ".join(f"{k} {v}" for k, v in sorted(lesson.statuses.items()))
    parts.append(f"<p>{n} submission(s) ({_e(status)}); mean score {mean:.2f} of {_e(float(lesson.max_total))}."
                 + (f" <span class=students>No submission: {_e(', '.join(lesson.missing))}.</span>"
                    if lesson.missing else "") + "</p>")
    pictures = [plot_totals(lesson), plot_cells(lesson), plot_mistakes(lesson, mistakes)]
    parts.append("<div class=plots>" + "".join(
        f"<img alt='plot' src='data:image/png;base64,{p}'>" for p in pictures if p) + "</div>")
    top = most_failed(lesson)
    parts.append("<h3>Most often failed</h3>" + (
        "<ol>" + "".join(f"<li><code>{_e(c.name)}</code>: {len(c.failed)} of {len(c.graded)} lost points"
                         f" ({100 * len(c.failed) / max(len(c.graded), 1):.0f} %)</li>" for c in top) + "</ol>"
        if top else "<p class=note>No graded cell lost points.</p>"))
    named = [r for r in mistakes if r["mistake"]]
    parts.append("<h3>Named mistakes</h3>" + (_table(
        ["exercise", "mistake", "submissions", "fix", "seen in", "students"],
        [[_e(r["exercise"] or "?"), f"{_e(r['name'])}<br><code>{_e(r['mistake'])}</code>",
          f"<b>{r['count']}</b> of {r['total']}", _e(r["fix"]), _e(r["cell"]),
          f"<span class=students>{_e(r['students'])}</span>"] for r in named])
        if named else "<p class=note>No check named a mistake.</p>"))
    unnamed = [c for c in lesson.cells if c.unnamed]
    if unnamed:
        parts.append("<h3>Failed without a named mistake</h3><p class=note>No check recognised these failures: "
                     "read the notebooks in <code>autograded/</code>.</p>" + _table(
                         ["cell", "submissions", "students (first error)"],
                         [[f"<code>{_e(c.name)}</code>", f"<b>{len(c.unnamed)}</b> of {len(c.graded)}",
                           "<span class=students>" + ", ".join(
                               f"{_e(o.student)} ({_e(o.error or 'no error output')})" for o in c.unnamed)
                           + "</span>"] for c in unnamed]))
    parts.append("<h3>Graded cells</h3>" + _table(
        ["cell", "kind", "graded", "mean", "max", "lost points", "of which no named mistake", "awaiting manual grade",
         "scores (score: submissions)"],
        [[f"<code>{_e(r['cell'])}</code>", _e(r["kind"]), r["students"], r["mean_score"], r["max_score"],
          r["failed"], r["failed_without_named_mistake"], r["awaiting_manual_grade"], _e(r["score_counts"])]
         for r in cells], numeric={2, 3, 4, 5, 6, 7}))
    return "".join(parts)


def page(course: str, lessons: list[Lesson], sections: list[str]) -> str:
    rows = [[f"<a href='#{_e(x.name)}'>{_e(x.name)}</a>", len(x.totals),
             f"{sum(x.totals.values()) / len(x.totals):.2f}" if x.totals else "", _e(float(x.max_total)),
             _e(x.note or ", ".join(f"{c.name} ({len(c.failed)})" for c in most_failed(x, 3)))] for x in lessons]
    summary = _table(["lesson", "submissions", "mean score", "max", "most often failed (lost points)"], rows,
                     numeric={1, 2, 3})
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Class report: {_e(course)}</title>"
            f"<style>{CSS}</style></head><body><h1>Class report: {_e(course)}</h1>"
            "<p class=note>Scores from the gradebook; mistakes as the checks named them in the graded notebooks "
            "(a submission's code could forge these, which changes only this report). "
            "Counts are submissions.</p>" + summary + "".join(sections) + "</body></html>")


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def report(root: Path, lessons: list[str] | None = None, out: str | Path | None = None, log=print) -> list[Path]:
    """Write ``report.html``, ``cells.csv`` and ``mistakes.csv`` for ``lessons`` (default all) into ``out``
    (default ``<root>/reports``); return their paths."""
    names = resolve(root, lessons)
    out = Path(out) if out is not None else root / "reports"
    known = catalogue()
    gb, coursedir = open_gradebook(root)
    try:
        collected = [collect(gb, coursedir, root, name) for name in names]
    finally:
        if gb is not None:
            gb.close()
    cells = {x.name: cell_rows(x) for x in collected}
    mistakes = {x.name: mistake_rows(x, known) for x in collected}
    sections = [lesson_html(x, cells[x.name], mistakes[x.name]) for x in collected]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CourseError(f"cannot write the report to {out}: {e.strerror}") from e
    paths = [out / "report.html", out / "cells.csv", out / "mistakes.csv"]
    paths[0].write_text(page(coursedir.course_id, collected, sections), encoding="utf-8")
    _write_csv(paths[1], CELL_COLUMNS, [r for x in collected for r in cells[x.name]])
    _write_csv(paths[2], MISTAKE_COLUMNS, [r for x in collected for r in mistakes[x.name]])
    for x in collected:
        if x.note:
            log(f"{x.name}: {x.note}")
    for path in paths:
        log(f"written {path}")
    return paths
