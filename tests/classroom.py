"""A class to grade in the tests: a course holding the attack lesson (``tests/attacks``) and chosen students,
graded by plain serial nbgrader for reference, and the host's things that hostile submissions aim at."""

import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import nbformat

from attacks import LESSON, lesson
from autograder.course import api, check_result
from autograder.grade import Limits, gradebook_snapshot, read_journal

ROOT = Path(__file__).resolve().parents[1]
# Short enough to keep the run short, long enough for a busy 2-core CI machine (a cell that imports torch).
LIMITS = Limits(wall_seconds=150, cell_seconds=30, memory_mb=3072, output_bytes=1_000_000)


#: What hostile submissions aim at outside the course: a file only root may read, a host socket, another copy of
#: the course (outside /tmp, /root and /home, which the box always hid).
HOST = {"victim": Path(tempfile.gettempdir()) / f"nlg-victim-{os.getpid()}.txt",
        "socket": Path("/run") / f"nlg-test-{os.getpid()}.sock",
        "copy": Path("/srv") / f"nlg-copy-{os.getpid()}" / "solutions" / LESSON / f"{LESSON}.ipynb"}


def make_course(folder: Path, students: dict) -> Path:
    """A course with the attack lesson and ``students`` (id -> builder) in ``submitted/``."""
    (folder / "solutions" / LESSON).mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", folder / "nbgrader_config.py")
    nbformat.write(lesson(), folder / "solutions" / LESSON / f"{LESSON}.ipynb")
    ctx = {"root": str(folder), "lesson": LESSON, "outside": str(folder.parent / "outside.txt")}
    ctx.update({k: str(v) for k, v in HOST.items()})
    for student in sorted(students, key=lambda s: s.startswith("linked")):  # links point at honest's folder
        students[student](lesson(), folder / "submitted" / student / LESSON, ctx)
    return folder


def serial_nbgrader(folder: Path) -> dict:
    """Plain nbgrader, one notebook after another: the reference result."""
    nbgrader = api(folder)
    release = folder.parent / f"{folder.name}-release"
    nbgrader.coursedir.release_directory = str(release)
    check_result(nbgrader.generate_assignment(LESSON, force=True, create=True), "generate")
    for student in sorted(p.name for p in (folder / "submitted").iterdir()):
        check_result(nbgrader.autograde(LESSON, student, force=True, create=True), f"autograde {student}")
    return gradebook_snapshot(nbgrader.coursedir.db_url)


def snapshot(folder: Path, skip=("autograded", "gradebook.db", "feedback")) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.read_bytes() if p.stat().st_size < 1 << 24 else b"")
            for p in sorted(folder.rglob("*")) if p.is_file() and p.relative_to(folder).parts[0] not in skip}


def db(folder: Path) -> str:
    return f"sqlite:///{folder}/gradebook.db"


def cell_reasons(course: Path, student: str) -> str:
    """The recorded reasons: the journal, and the error outputs of the autograded notebook."""
    text = " ".join(read_journal(course, LESSON, student)["reasons"])
    path = course / "autograded" / student / LESSON / f"{LESSON}.ipynb"
    if path.exists():
        for cell in nbformat.read(path, as_version=4).cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    text += f" {out.ename}: {out.evalue}"
    return text


class HostSocket:
    """A Unix socket on the host, open to everyone (mode 0666), counting the connections it gets."""

    def __init__(self, path: Path):
        self.path, self.connections = path, 0
        path.unlink(missing_ok=True)
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        os.chmod(path, 0o666)
        self.server.listen()
        self.server.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.running = False
        self.thread.join()
        self.server.close()
        self.path.unlink(missing_ok=True)
