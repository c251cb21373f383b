"""``python -m autograder feedback``: nbgrader's HTML feedback, minus the hidden tests.

nbgrader's ``generate_feedback`` renders the autograded notebook, and the autograded notebook holds the
hidden tests (nbgrader restores them before executing). :class:`HideHiddenTests`, added to nbgrader's own
feedback steps, replaces each ``### BEGIN HIDDEN TESTS`` block (as written in ``solutions/``) with a
placeholder, cuts tracebacks in those cells down to their last line (the check's diagnosis, which names the
failing case and the likely mistake), and blanks any hidden-test line that a student's code printed.
"""

from __future__ import annotations

import re
from pathlib import Path

from .course import SOURCE, CourseError, resolve

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
PLACEHOLDER = "# (hidden tests: not shown)"


def hidden_tests(source: Path) -> dict[str, list[str]]:
    """grade_id -> the lines inside its hidden-test blocks, for one source notebook."""
    import nbformat

    out = {}
    for cell in nbformat.read(source, as_version=4).cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id and BEGIN in cell.source:
            lines, inside = [], False
            for line in cell.source.splitlines():
                if line.strip() == BEGIN:
                    inside = True
                elif line.strip() == END:
                    inside = False
                elif inside:
                    lines.append(line)
            out[grade_id] = lines
    return out


def strip_hidden(source: str) -> str:
    return re.sub(rf"^[ \t]*{re.escape(BEGIN)}\n.*?^[ \t]*{re.escape(END)}[ \t]*$", PLACEHOLDER, source,
                  flags=re.S | re.M)


def _preprocessor_class():
    from nbgrader.preprocessors import NbGraderPreprocessor
    from traitlets import Unicode

    class HideHiddenTests(NbGraderPreprocessor):
        """Feedback step: hidden-test source out, the checks' messages in."""

        source_dir = Unicode("", help="the course's solutions/ folder (absolute)").tag(config=True)

        def preprocess(self, nb, resources):
            meta = resources["nbgrader"]
            hidden = hidden_tests(Path(self.source_dir) / meta["assignment"] / f"{meta['notebook']}.ipynb")
            secrets = sorted({line.strip() for lines in hidden.values() for line in lines
                              if len(line.strip()) >= 8 and not line.strip().startswith("#")}, key=len, reverse=True)
            for cell in nb.cells:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if grade_id in hidden or BEGIN in cell.source:
                    cell.source = strip_hidden(cell.source)
                    for out in cell.get("outputs", []):
                        if out.get("output_type") == "error":
                            out["traceback"] = [f"{out.get('ename')}: {out.get('evalue')}"]
                for out in cell.get("outputs", []):
                    _scrub(out, secrets)
            return nb, resources

    return HideHiddenTests


def _scrub(out, secrets: list[str]) -> None:
    def clean(text: str) -> str:
        for s in secrets:
            text = text.replace(s, "[hidden test]")
        return text

    if "text" in out:
        out["text"] = clean(out["text"])
    if "traceback" in out:
        out["traceback"] = [clean(t) for t in out["traceback"]]
    if "evalue" in out:
        out["evalue"] = clean(out["evalue"])
    for key, value in list(out.get("data", {}).items()):
        if key.startswith("text/") and isinstance(value, str):
            out["data"][key] = clean(value)


def feedback(root: Path, names: list[str] | None = None, students: list[str] | None = None, log=print) -> bool:
    """Write ``feedback/<student>/<lesson>/<notebook>.html`` for every graded submission; True if all worked."""
    import warnings

    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    from .grade import nbgrader_api

    warnings.filterwarnings("ignore", message=".*not in session.*")
    chosen = resolve(root, names)
    api = nbgrader_api(root, {
        "GenerateFeedback": {"preprocessors": [GetGrades, _preprocessor_class(), CSSHTMLHeaderPreprocessor]},
        "HideHiddenTests": {"source_dir": str(root / SOURCE)},
    })
    ok, written = True, 0
    for lesson in chosen:
        graded = sorted(p.parent.name for p in (root / "autograded").glob(f"*/{lesson}")
                        if p.is_dir() and not p.parent.name.startswith(".") and any(p.glob("*.ipynb")))
        for student in graded:
            if students and student not in students:
                continue
            result = api.generate_feedback(lesson, student)
            if not result.get("success"):
                ok = False
                try:
                    from .course import check_result

                    check_result(result, f"feedback for {student}/{lesson}")
                except CourseError as e:
                    log(f"  {e}")
                continue
            written += 1
    log(f"feedback written for {written} submission(s) in {root / 'feedback'}")
    return ok
