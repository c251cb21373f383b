"""``python -m autograder feedback``: nbgrader's HTML feedback, with nothing the student should not see.

nbgrader's ``generate_feedback`` renders the autograded notebook, and the autograded notebook holds the
hidden tests (nbgrader restores them before executing). :class:`HideHiddenTests`, added to nbgrader's own
feedback steps, replaces each ``### BEGIN HIDDEN TESTS`` block (as written in ``solutions/``) with a
placeholder. It cannot know what the student's code did with hidden tests it could read, so from the first
cell that held hidden tests on, the page carries nothing the kernel produced: each code cell's outputs,
execution count and timing are replaced by what the grader itself knows (a graded cell's points, and the
name of the error that failed it when that is a known one). Before that cell the kernel had seen no hidden
test, and the learner gets every output, the visible tests' diagnoses included.

Then :class:`SanitizeMarkdown` renders each Markdown cell to HTML and cleans it with nh3 (the maintained
bindings of the Rust sanitizer ammonia: no script, no event handler, no ``javascript:`` link), nbconvert's
``SanitizeHTML`` cleans the outputs' HTML and drops JavaScript outputs, and the HTML exporter's
``sanitize_html`` cleans what the template renders: no script of a student's runs in the page an instructor
or TA opens.
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


#: Error names a feedback page may show after the hidden tests were in reach (a kernel can raise an exception
#: of any name, so only these are shown; any other reads "an error").
KNOWN_ERRORS = frozenset({"CheckFailure", "AssertionError", "NotImplementedError", "NameError", "TypeError",
                          "ValueError", "RuntimeError", "AttributeError", "IndexError", "KeyError", "ZeroDivisionError",
                          "MemoryError", "KeyboardInterrupt", "SystemExit", "GradingLimitError", "ModuleNotFoundError",
                          "ImportError", "SyntaxError", "IndentationError", "FileNotFoundError", "OSError"})
NOT_SHOWN = "(output not shown: this cell ran after the hidden tests were in the kernel's reach)"


def _preprocessor_class():
    from nbgrader.preprocessors import NbGraderPreprocessor
    from traitlets import Unicode

    class HideHiddenTests(NbGraderPreprocessor):
        """Feedback step: hidden-test source out; from the first hidden test on, the grader's verdicts only."""

        source_dir = Unicode("", help="the course's solutions/ folder (absolute)").tag(config=True)

        def preprocess(self, nb, resources):
            from .checks._core import DIAGNOSIS_MIME

            meta = resources["nbgrader"]
            hidden = hidden_tests(Path(self.source_dir) / meta["assignment"] / f"{meta['notebook']}.ipynb")
            reached = False
            for cell in nb.cells:
                if cell.cell_type == "code":  # the report's machine-readable diagnoses are not for the page
                    cell.outputs = [o for o in cell.outputs if DIAGNOSIS_MIME not in o.get("data", {})]
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if grade_id in hidden or BEGIN in cell.source:
                    cell.source = strip_hidden(cell.source)
                    reached = reached or cell.cell_type == "code"
                if reached and cell.cell_type == "code":
                    cell.outputs = [_verdict(cell)]
                    cell.execution_count = None
                    cell.metadata.pop("execution", None)
            return nb, resources

    return HideHiddenTests


def _sanitize_markdown_class():
    from nbconvert.preprocessors import Preprocessor

    class SanitizeMarkdown(Preprocessor):
        """Feedback step: each Markdown cell becomes its rendering, cleaned by nh3 (nbgrader's feedback template
        renders Markdown without sanitizing, and Markdown links can carry ``javascript:`` URLs)."""

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type in ("markdown", "raw"):
                cell.source = clean_markdown(cell.source)
            return cell, resources

    SanitizeMarkdown.enabled = True
    return SanitizeMarkdown


def clean_markdown(source: str) -> str:
    """Markdown as HTML that stays safe when the feedback template renders it as Markdown once more.

    Rendering and cleaning are repeated until they change nothing (cleaning can expose Markdown, e.g. a
    ``[link](javascript:...)`` that followed a removed ``<script>`` block); if what the template will render
    is still not clean as it is, the cell is shown as escaped text."""
    import html

    import nh3
    from nbconvert.filters.markdown_mistune import markdown2html_mistune as render

    def clean(text):
        return nh3.clean(text, url_schemes={"http", "https", "mailto", "data", "attachment"})

    out = source
    for _ in range(8):
        cleaned = clean(render(out))
        if cleaned == out:
            break
        out = cleaned
    shown = render(out)
    return out if clean(shown) == shown else f"<pre>{html.escape(source)}</pre>"


def _verdict(cell):
    """What the grader knows of a cell that ran after the hidden tests were in reach, as a stream output."""
    from nbformat.v4 import new_output

    grading = cell.metadata.get("nbgrader", {})
    if not grading.get("grade") or grading.get("solution"):
        return new_output("stream", name="stdout", text=NOT_SHOWN + "\n")
    score, points = grading.get("score"), grading.get("points")
    errors = [o.get("ename") for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    error = (errors[0] if errors[0] in KNOWN_ERRORS else "an error") if errors else ""
    if score is not None and points and score >= points:
        text = f"passed: {score:g} of {points:g} points"
    else:
        text = f"failed: {score or 0:g} of {points or 0:g} points" + (f" ({error})" if error else "")
    return new_output("stream", name="stdout", text=f"{text}\n{NOT_SHOWN}\n")


def feedback(root: Path, names: list[str] | None = None, students: list[str] | None = None, log=print) -> bool:
    """Write ``feedback/<student>/<lesson>/<notebook>.html`` for every graded submission; True if all worked."""
    import warnings

    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbconvert.preprocessors.sanitize import SanitizeHTML
    from nbgrader.preprocessors import GetGrades

    from .gradebook import nbgrader_api

    warnings.filterwarnings("ignore", message=".*not in session.*")
    chosen = resolve(root, names)
    api = nbgrader_api(root, {
        "GenerateFeedback": {"preprocessors": [GetGrades, _preprocessor_class(), _sanitize_markdown_class(),
                                                SanitizeHTML, CSSHTMLHeaderPreprocessor]},
        "HideHiddenTests": {"source_dir": str(root / SOURCE)},
        "SanitizeHTML": {"enabled": True},
        "HTMLExporter": {"sanitize_html": True},
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
