"""A lesson as a learner meets it: in JupyterLab, in a real browser, checked by nbgrader's Validate button.

A copy of the released lesson (``lessons/00_inputs``, answer cells still stubs; every lesson with
``NORMLAB_BROWSER_LESSONS=all``) is served by a private
JupyterLab (``labserver.py``) and driven with Playwright through Debian's Chromium. The answers from
``solutions/`` are typed into the answer cells, the notebook is run with Run > Run All Cells and saved, and
then: no cell failed, every plot arrived as an image, the visible tests passed and Validate says success.
A second notebook keeps its stub and must fail Validate, so the test is seen able to fail.

Screenshots go to ``runs/browser/``. Needs ``/usr/bin/chromium`` (``apt-get install chromium``) and the
``playwright`` package; without them the test is skipped, or fails when ``NORMLAB_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

from autograder.course import lessons, release_notebook, resolve, source_notebook

ROOT = Path(__file__).resolve().parents[1]
LESSON = "00_inputs"
SHOTS = ROOT / "runs" / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# What nbgrader's lab extension (@jupyter/nbgrader 0.9.6) shows after Validate: a dialog classed
# nbgrader-SuccessDialog or nbgrader-ErrorDialog, titled "Validation Results", whose body #validation-message
# is classed validation-success, -failed ("The following cell failed:" + source + error), -changed ("The source
# of the following cell has changed, ...") or -type-changed; or an error dialog "Validation failed" / "Version
# Mismatch" / "There was an error running the validate command:".
VALIDATE_SUCCESS = "Success! Your notebook passes all the tests."
VALIDATE_FAILED = "The following cell failed:"
STDERR = 'application/vnd.jupyter.stderr'
# stderr that is not a failure: Python warnings and progress bars (nbgrader_config.py's IgnorePattern).
HARMLESS_STDERR = re.compile(r"(?:\w*Warning: )|(?:\d+%\|)")

TIMEOUT_MS = 60_000  # any single browser step; a busy 2-core machine is slow to lay out JupyterLab
RUN_TIMEOUT_MS = 300_000  # Run All of lesson 00: ~15 s of kernel time on a quiet machine
VALIDATE_TIMEOUT_MS = 360_000  # Validate re-executes the whole notebook server-side
# JavaScript: the code cells' prompts ("[ ]:" not run, "[*]:" pending or running, "[3]:" done).
PROMPTS = "[...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim())"
NUMBERED = r"/^\[\d+\]:$/"

pytestmark = pytest.mark.slow


def browser_lessons() -> list[str]:
    """The lessons to run in the browser: lesson 00 (as CI does), or ``NORMLAB_BROWSER_LESSONS=all`` or a
    comma-separated list (``02,05``) to check more before a release (about a minute a lesson)."""
    want = os.environ.get("NORMLAB_BROWSER_LESSONS", LESSON)
    return lessons(ROOT) if want == "all" else resolve(ROOT, want.split(","))


def required(reason: str):
    if os.environ.get("NORMLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (NORMLAB_REQUIRE_BROWSER=1 asks for the browser test)", pytrace=False)
    pytest.skip(reason)


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def answer_cells(release, solution) -> list[tuple[int, str, str]]:
    """(index, cell type, what a learner types) for every cell a learner must fill in.

    Code answers are solution cells that are not graded (as in ``bench/layers.py``); written answers are graded
    markdown solution cells, which Validate also requires. Release and source have the same cells in the same
    order; the typed text is the solution without nbgrader's markers."""
    assert len(release.cells) == len(solution.cells), "release and solution differ in their number of cells"
    out = []
    for i, (mine, theirs) in enumerate(zip(release.cells, solution.cells)):
        meta = nbgrader(theirs)
        assert nbgrader(mine).get("grade_id") == meta.get("grade_id"), f"cell {i}: release and solution differ"
        if not meta.get("solution"):
            continue
        if theirs.cell_type == "code" and not meta.get("grade"):
            text = "\n".join(line for line in theirs.source.splitlines()
                             if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
        elif theirs.cell_type == "markdown" and meta.get("grade"):
            found = re.search(r"### BEGIN SOLUTION\n(.*?)\n?### END SOLUTION", theirs.source, re.S)
            text = found.group(1).strip() if found else theirs.source
        else:
            continue
        out.append((i, theirs.cell_type, text))
    assert any(kind == "code" for _, kind, _ in out), "no code answer cell found"
    return out


# ----------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def chromium() -> str:
    path = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
    if not path:
        required("Chromium not found (neither /usr/bin/chromium nor chromium on PATH): apt-get install chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        required("the playwright package is missing: pip install -r requirements.txt")
    return path


@pytest.fixture(scope="module")
def course(tmp_path_factory, chromium) -> Path:
    """The server's root: the released lesson twice (filled in, and left as a stub) and the course config."""
    base = tmp_path_factory.mktemp("browser")
    root = base / "course"
    root.mkdir()
    for name in browser_lessons():
        shutil.copytree(release_notebook(ROOT, name).parent, root / name)
    shutil.copytree(release_notebook(ROOT, LESSON).parent, root / "stub")
    # Validate loads nbgrader_config.py from the server's working directory (= root, see labserver.py).
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    return root


@pytest.fixture(scope="module")
def lab(course):
    from labserver import LabServer

    server = LabServer(course, course.parent / "jupyterlab.log")
    try:
        try:
            server.start()
        except RuntimeError as e:
            pytest.fail(str(e), pytrace=False)
        yield server
    finally:
        server.stop()  # the server's process group, then its kernels
    server.assert_stopped()


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        # A fresh, temporary profile (user-data-dir) for every launch; the browser ends with instance.close().
        instance = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True,
                                      timeout=TIMEOUT_MS)
        try:
            context = instance.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(TIMEOUT_MS)
            yield context
        finally:
            instance.close()
    finally:
        pw.stop()


class Notebook:
    """One notebook open in JupyterLab, in a workspace of its own (nothing else restored next to it)."""

    def __init__(self, context, lab, path: str):
        self.started = self.last = time.monotonic()
        self.times: list[str] = []
        self.lab = lab
        self.path = lab.root / path
        self.name = path
        self.page = context.new_page()
        self.panel = self.page.locator(".jp-NotebookPanel").filter(has=self.page.locator(".jp-Notebook"))
        self.cells = self.panel.locator(".jp-Notebook .jp-Cell")

    def open(self):
        path = self.name
        workspace = re.sub(r"\W", "-", path)
        self.page.goto(self.lab.url(f"lab/workspaces/{workspace}/tree/{path}"), wait_until="domcontentloaded")
        expected = len(nbformat.read(self.path, as_version=4).cells)
        self.wait(f"""() => document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell').length === {expected}
                   && document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status === 'idle'""",
                  TIMEOUT_MS * 2, f"{path} did not open with {expected} cells and an idle kernel")
        self.lap("open")

    def lap(self, stage: str) -> None:
        """Note how long ``stage`` took; ``times`` goes to the test's output, for spotting a slow step."""
        now = time.monotonic()
        self.times.append(f"{stage} {now - self.last:.1f} s")
        self.last = now

    def fail(self, message: str, at: int | None = None):
        """Fail the test with ``message``, a screenshot (of cell ``at``, if given) and the server log's tail."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = SHOTS / f"{re.sub(r'[^A-Za-z0-9_]', '-', self.name)}-failure.png"
        try:
            if at is not None:
                self.cells.nth(at).evaluate("e => e.scrollIntoView({block: 'start'})")
            self.page.screenshot(path=shot)
            where = f"screenshot: {shot}"
        except Exception as e:  # noqa: BLE001 - the page itself may be gone
            where = f"(no screenshot: {e})"
        pytest.fail(f"{message}\n{where}\n{self.lab.log_tail()}", pytrace=False)

    def wait(self, predicate: str, timeout: float, message: str):
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            self.page.wait_for_function(predicate, timeout=timeout, polling=250)
        except PlaywrightTimeout:
            self.fail(f"{message} (waited {timeout / 1000:.0f} s); prompts: {self.prompts()}")

    def wait_for_run(self, timeout: float = RUN_TIMEOUT_MS):
        """Wait until the cells sent to the kernel have run: none is pending ("[*]:") and the kernel is idle.
        A cell that fails ends Run All early: the cells after it keep an empty prompt."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:  # see the run start first, so that the idle kernel from before it does not count
            self.page.wait_for_function(f"() => {{ const p = {PROMPTS}; return p.some(t => t === '[*]:') || "
                                        f"p.every(t => {NUMBERED}.test(t)); }}", timeout=10_000, polling=100)
        except PlaywrightTimeout:
            pass  # it may have started and ended between two looks
        self.wait(f"""() => !{PROMPTS}.some(t => t === '[*]:')
                         && document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status === 'idle'""",
                  timeout, "the cells did not finish running")

    def prompts(self) -> list[str]:
        return self.page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").all_inner_texts()

    def type_into(self, index: int, kind: str, text: str):
        """Replace the source of cell ``index`` by ``text`` the way a learner does: click, select all, type."""
        cell = self.cells.nth(index)
        cell.scroll_into_view_if_needed()
        if kind == "markdown":
            cell.locator(".jp-MarkdownOutput").dblclick()  # a rendered markdown cell opens its editor
        editor = cell.locator(".jp-InputArea-editor .cm-content")
        editor.click()
        self.page.keyboard.press("Control+a")
        # insert_text types the text as one input: no auto-indent, no closing brackets added by the editor.
        self.page.keyboard.insert_text(text)
        self.page.keyboard.press("Escape")

    def menu(self, top: str, item: str):
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$")).click()
        self.page.locator(".lm-Menu-content .lm-Menu-itemLabel",
                          has_text=re.compile(f"^{re.escape(item)}$")).click()

    def save(self) -> nbformat.NotebookNode:
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Control+s")
        self.wait("""() => { const tab = document.querySelector('#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current');
                             return tab !== null && !tab.classList.contains('jp-mod-dirty'); }""",
                  TIMEOUT_MS, "Ctrl+S did not save the notebook (its tab stays marked as modified)")
        return nbformat.read(self.path, as_version=4)

    def validate(self, shot: Path) -> tuple[bool, str]:
        """Click Validate; wait for nbgrader's dialog; screenshot it; return (success, the dialog's text)."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        button = self.panel.locator(".validate-button")
        if button.count() != 1:
            self.fail("no Validate button in the notebook toolbar: is nbgrader's lab extension enabled? "
                      "(jupyter labextension list should show @jupyter/nbgrader enabled)")
        button.click()
        nbgrader_dialog = self.page.locator(".nbgrader-SuccessDialog, .nbgrader-ErrorDialog")
        try:
            nbgrader_dialog.first.wait_for(state="visible", timeout=VALIDATE_TIMEOUT_MS)
        except PlaywrightTimeout:
            self.fail(f"no dialog from nbgrader's Validate within {VALIDATE_TIMEOUT_MS / 1000:.0f} s")
        dialog = nbgrader_dialog.first
        text = dialog.inner_text()
        success = (dialog.locator("#validation-message.validation-success").count() == 1
                   and "nbgrader-SuccessDialog" in (dialog.get_attribute("class") or ""))
        shot.parent.mkdir(parents=True, exist_ok=True)
        dialog.locator(".jp-Dialog-content").screenshot(path=shot)
        print(f"Validate dialog screenshot: {shot}")
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        dialog.wait_for(state="detached")
        return success, text

    def close(self):
        self.page.close()


@contextmanager
def opened(browser, lab, path: str):
    from playwright.sync_api import Error as PlaywrightError

    notebook = Notebook(browser, lab, path)
    try:
        notebook.open()
        yield notebook
    except PlaywrightError as e:  # a click or a wait that timed out: say where, with a screenshot and the log
        notebook.fail(f"browser step failed in {path}: {e}")
    finally:
        print(f"{path}: " + ", ".join(notebook.times) + f"; {time.monotonic() - notebook.started:.1f} s in all")
        notebook.close()
        try:
            lab.shutdown_kernels()  # the next notebook gets the CPU and the memory
        except OSError:
            pass  # the server is gone; its fixture says so


# ------------------------------------------------------------------------------------------------- checks


def errors(nb) -> list[str]:
    return [f"cell {i} ({nbgrader(c).get('grade_id', 'no id')}): {o.get('ename')}: {o.get('evalue')}"
            for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.outputs if o.output_type == "error"]


def png_outputs(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.outputs if o.output_type in ("display_data", "execute_result"))


@pytest.mark.parametrize("lesson", browser_lessons())
def test_lesson_filled_in_runs_plots_and_validates_in_jupyterlab(lab, browser, lesson):
    release = nbformat.read(lab.root / lesson / f"{lesson}.ipynb", as_version=4)
    solution = nbformat.read(source_notebook(ROOT, lesson), as_version=4)
    answers = answer_cells(release, solution)
    tests = [i for i, c in enumerate(release.cells) if c.cell_type == "code" and nbgrader(c).get("grade")]
    assert tests, f"lesson {lesson} has no test cell"

    with opened(browser, lab, f"{lesson}/{lesson}.ipynb") as nb:
        for index, kind, text in answers:
            nb.type_into(index, kind, text)
        nb.lap("type answers")
        nb.menu("Run", "Run All Cells")
        nb.wait_for_run()
        nb.lap("run all")
        saved = nb.save()
        nb.lap("save")

        # What was typed is what was saved: the answers arrived intact, without editor auto-indent or brackets.
        for index, _, text in answers:
            if saved.cells[index].source.strip() != text.strip():
                nb.fail(f"cell {index} was saved as\n{saved.cells[index].source}\n--- but the answer typed was\n{text}")

        # No cell failed, in the file and on screen. stderr that is a warning or a progress bar is harmless (the
        # course's IgnorePattern drops it when grading); a traceback or an error name on stderr is not.
        if errors(saved):
            first = next(i for i, c in enumerate(saved.cells) if c.cell_type == "code"
                         and any(o.output_type == "error" for o in c.outputs))
            nb.fail("cells failed:\n" + "\n".join(errors(saved)), at=first)
        not_run = [i for i, c in enumerate(saved.cells) if c.cell_type == "code" and not c.execution_count]
        if not_run:
            nb.fail(f"Run All Cells left cells {not_run} unexecuted; prompts: {nb.prompts()}")
        stderr = nb.panel.locator(f'.jp-RenderedText[data-mime-type="{STDERR}"]').all_inner_texts()
        bad = [t for t in stderr if re.search(r"Traceback|\w*Error\b", t)
               and not (HARMLESS_STDERR.search(t) and "Traceback" not in t)]
        if bad:
            nb.fail("errors on screen:\n" + "\n---\n".join(t[-1500:] for t in bad))

        # The visible tests ran and passed: executed, no error, nothing on stderr (nbgrader fails a cell for it).
        for i in tests:
            cell = saved.cells[i]
            assert cell.execution_count, f"test cell {i} ({nbgrader(cell)['grade_id']}) did not run"
            failed = [o for o in cell.outputs if o.output_type == "error"
                      or (o.output_type == "stream" and o.name == "stderr" and not HARMLESS_STDERR.search(o.text))]
            assert not failed, f"test cell {nbgrader(cell)['grade_id']} failed: {failed}"
        passed = "".join(o.get("text", "") for i in tests for o in saved.cells[i].outputs)
        assert "passed" in passed, f"no visible test printed that it passed: {passed!r}"

        # Every plot in the file is an image the browser decoded.
        pngs = png_outputs(saved)
        assert pngs >= 1, f"lesson {lesson} saved no plot"
        nb.wait(f"""() => [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output img')]
                          .filter(i => i.complete && i.naturalWidth > 0).length >= {pngs}""",
                TIMEOUT_MS, f"fewer than {pngs} plots rendered")
        shown = nb.panel.locator(".jp-OutputArea-output img").evaluate_all(
            "imgs => imgs.map(i => [i.complete && i.naturalWidth > 0, i.naturalWidth, i.naturalHeight])")
        rendered = [s for s in shown if s[0]]
        assert len(rendered) == len(shown) == pngs, f"{pngs} plots saved, images on screen: {shown}"

        SHOTS.mkdir(parents=True, exist_ok=True)
        nb.cells.nth(tests[0]).evaluate("e => e.scrollIntoView({block: 'start'})")
        shot = SHOTS / f"{lesson}.png"
        nb.page.screenshot(path=shot, full_page=True)
        print(f"JupyterLab screenshot after Run All: {shot} ({pngs} plots rendered)")
        nb.lap("check outputs")

        success, text = nb.validate(SHOTS / f"{lesson}-validate.png")
        nb.lap("validate")
        assert success and VALIDATE_SUCCESS in text, f"Validate did not report success:\n{text}\n{lab.log_tail()}"
        # Validate read the course's nbgrader_config.py (time-outs), which it looks for in the server's cwd.
        assert "No nbgrader_config.py file found" not in lab.log.read_text(errors="replace"), lab.log_tail()


def test_validate_fails_when_an_answer_is_left_as_its_stub(lab, browser):
    """The negative control: the same lesson with the code answer left as its stub. Only the cells the test
    needs are run (setup, answer, test); the written answer is filled in so the stub is the one thing wrong."""
    release = nbformat.read(lab.root / "stub" / f"{LESSON}.ipynb", as_version=4)
    solution = nbformat.read(source_notebook(ROOT, LESSON), as_version=4)
    answers = answer_cells(release, solution)
    code = [i for i, kind, _ in answers if kind == "code"]
    test = next(i for i, c in enumerate(release.cells)
                if c.cell_type == "code" and nbgrader(c).get("grade") and "check_" in c.source)
    setup = next(i for i, c in enumerate(release.cells) if c.cell_type == "code")

    with opened(browser, lab, f"stub/{LESSON}.ipynb") as nb:
        for index, kind, text in answers:
            if kind == "markdown":
                nb.type_into(index, kind, text)
        for index in (setup, *code, test):
            nb.cells.nth(index).locator(".jp-InputPrompt").click()
            nb.page.keyboard.press("Shift+Enter")
        nb.wait_for_run()
        nb.lap("type and run")
        shown = nb.cells.nth(test).locator(f'.jp-RenderedText[data-mime-type="{STDERR}"]').all_inner_texts()
        assert any("NotImplementedError" in t for t in shown), f"the test cell shows no NotImplementedError: {shown}"
        saved = nb.save()
        assert saved.cells[test].execution_count, f"the test cell did not run; prompts: {nb.prompts()}"
        assert any(o.output_type == "error" for o in saved.cells[test].outputs), "no error saved in the test cell"

        nb.lap("save")
        success, text = nb.validate(SHOTS / f"{LESSON}-stub-validate.png")
        nb.lap("validate")
        assert not success and VALIDATE_SUCCESS not in text, f"Validate passed a stub answer:\n{text}"
        assert text.count(VALIDATE_FAILED) == 1 and "check_standardize" in text and "NotImplementedError" in text, \
            f"Validate should name the one failing test cell and its NotImplementedError:\n{text}"
