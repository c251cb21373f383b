"""``python -m autograder export``: grades as CSV through nbgrader's exporter plugin mechanism.

:class:`LessonCsvExportPlugin` is an ``nbgrader.plugins.ExportPlugin``; plain nbgrader uses it too:
``nbgrader export --exporter=autograder.export.LessonCsvExportPlugin --to grades.csv``.
One row per student, then a ``(max)`` row; columns: ``student_id``, names, email, then for each lesson its
score and one column per graded cell (``LESSON/NOTEBOOK/GRADE_ID``), then ``total`` and ``max_total``.
A lesson a student has not submitted scores 0.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from nbgrader.api import MissingEntry
from nbgrader.plugins import ExportPlugin

from .course import CourseError


class LessonCsvExportPlugin(ExportPlugin):
    """A column per lesson and per graded cell, plus totals."""

    def export(self, gradebook) -> None:
        dest = self.to or "grades.csv"
        lessons = sorted(gradebook.assignments, key=lambda a: (a.duedate is None, a.name))
        if self.assignment:
            lessons = [a for a in lessons if a.name in {str(x) for x in self.assignment}]
        cells = {a.name: [(nb.name, gc.name, gc.max_score) for nb in sorted(a.notebooks, key=lambda n: n.name)
                          for gc in nb.grade_cells] for a in lessons}
        header = ["student_id", "last_name", "first_name", "email"]
        for a in lessons:
            header.append(a.name)
            header += [f"{a.name}/{nb}/{cell}" for nb, cell, _ in cells[a.name]]
        header += ["total", "max_total"]
        max_total = sum(a.max_score for a in lessons)
        rows = [["(max)", "", "", ""] + [x for a in lessons for x in [a.max_score] + [m for _, _, m in cells[a.name]]]
                + [max_total, max_total]]
        students = sorted(gradebook.students, key=lambda s: s.id)
        if self.student:
            students = [s for s in students if s.id in {str(x) for x in self.student}]
        for student in students:
            row, total = [student.id, student.last_name or "", student.first_name or "", student.email or ""], 0.0
            for a in lessons:
                try:
                    sub = gradebook.find_submission(a.name, student.id)
                except MissingEntry:
                    row += [0.0] + [0.0] * len(cells[a.name])
                    continue
                scores = {(nb.name, g.name): g.score for nb in sub.notebooks for g in nb.grades}
                row.append(sub.score)
                row += [scores.get((nb, cell), 0.0) for nb, cell, _ in cells[a.name]]
                total += sub.score
            rows.append(row + [total, max_total])
        self.log.info("Exporting grades to %s", dest)
        with open(dest, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)


def export(root: Path, to: str = "grades.csv", log=print) -> Path:
    """Run ``nbgrader export`` with the plugin above in the course root; return the CSV's path."""
    dest = Path(to) if Path(to).is_absolute() else Path.cwd() / to
    r = subprocess.run([sys.executable, "-m", "nbgrader", "export",
                        "--exporter=autograder.export.LessonCsvExportPlugin", f"--to={dest}"],
                       cwd=root, capture_output=True, text=True)
    if r.returncode != 0:
        lines = [line for line in (r.stderr + r.stdout).splitlines() if line.strip()]
        raise CourseError(f"export failed: {lines[-1] if lines else r.returncode}")
    log(f"grades written to {dest}")
    return dest
