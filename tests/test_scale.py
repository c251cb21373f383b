"""A class at scale: grading on a real Dask cluster (a ``LocalCluster`` of worker processes), and a real
PostgreSQL gradebook (a server these tests start themselves). Both must grade exactly as the local pool and
serial nbgrader do."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from attacks import ATTACKS, HONEST, LESSON, POINTS
from autograder.grade import grade, gradebook_snapshot
from autograder.sandbox import bwrap_available
from pgserver import PostgresServer, bindir
from classroom import LIMITS, cell_reasons, db, make_course, serial_nbgrader

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not bwrap_available(), reason="bwrap (bubblewrap) is not installed")]

#: Honest students and copies of them: enough notebooks that a worker can be killed while one is in flight.
CLASS = HONEST | {f"honest_copy{k}": HONEST["honest"] for k in range(1, 5)}


def scores(snapshot: dict) -> dict:
    """A gradebook snapshot without its ids' order: per student the score and each cell's auto score."""
    return {key: (row["score"], sorted((cell, g[0]) for cell, g in row["cells"].items()))
            for key, row in snapshot.items()}


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=50) as local, Client(local) as client:
        yield local, client


@pytest.fixture(scope="module")
def class_reference(tmp_path_factory):
    return serial_nbgrader(make_course(tmp_path_factory.mktemp("serial-class") / "course", dict(CLASS)))


def test_a_dask_cluster_grades_the_attack_class_as_the_local_pool(cluster, tmp_path, host):
    _, client = cluster
    course = make_course(tmp_path / "course", HONEST | {k: v[0] for k, v in ATTACKS.items()})
    summary = grade(course, [LESSON], limits=LIMITS, progress=False, log=lambda *a: None, client=client)
    graded = gradebook_snapshot(db(course))
    for student, (_, zero, reason) in ATTACKS.items():
        cells = {cell: g[0] for (_, cell), g in graded[(student, LESSON)]["cells"].items() if cell in POINTS}
        assert cells == {cell: 0 if cell in zero else POINTS[cell] for cell in POINTS}, (student, cells)
        assert reason in cell_reasons(course, student), student
    assert graded[("honest", LESSON)]["score"] == 8 and graded[("honest_wrong", LESSON)]["score"] == 1
    assert host.connections == 0
    assert {j.student: j.status for j in summary.jobs}["loop_ignoring_interrupt"] == "timed out"


def test_a_worker_killed_mid_notebook_loses_nothing(cluster, tmp_path, class_reference):
    local, client = cluster
    course = make_course(tmp_path / "course", dict(CLASS))
    killed = []

    def kill_a_busy_worker():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not killed:
            busy = [address for address, tasks in client.processing().items() if tasks]
            if busy:
                time.sleep(3)  # well inside the notebook: its kernel is running
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.2)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    summary = grade(course, [LESSON], limits=LIMITS, progress=False, log=lambda *a: None, client=client)
    killer.join()
    assert killed, "no worker was busy to kill"
    assert [j.status for j in summary.jobs] == ["graded"] * len(CLASS), [(j.student, j.reasons) for j in summary.jobs]
    assert scores(gradebook_snapshot(db(course))) == scores(class_reference)  # each notebook once, as serially
    client.wait_for_workers(2, timeout=120)  # the nanny restarted the killed worker


@pytest.fixture(scope="module")
def postgres():
    if bindir() is None and not os.environ.get("NORMLAB_REQUIRE_POSTGRES"):
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; ./course test installs it as root)")
    folder = Path(tempfile.mkdtemp(prefix="nlg-pg-"))  # not under pytest's folders: the server's user can't enter
    try:
        with PostgresServer(folder) as server:
            yield server
        assert not server.is_running()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def with_gradebook(course, url: str):
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(f"\nc.CourseDirectory.db_url = {url!r}\n")


def test_a_postgresql_gradebook_works_as_sqlite(postgres, tmp_path, class_reference):
    course = make_course(tmp_path / "course", dict(CLASS))
    url = postgres.database("gradebook_grade")
    with_gradebook(course, url)
    summary = grade(course, [LESSON], jobs=2, limits=LIMITS, progress=False, log=lambda *a: None)
    assert [j.status for j in summary.jobs] == ["graded"] * len(CLASS)
    assert not (course / "gradebook.db").exists()  # the configured database was used, no SQLite beside it
    graded = gradebook_snapshot(url)
    assert scores(graded) == scores(class_reference)
    env = dict(os.environ)
    for verb in (["feedback"], ["export", "--to", "grades.csv"], ["release", LESSON], ["selfcheck", LESSON]):
        r = subprocess.run([sys.executable, "-m", "autograder", *verb], cwd=course, capture_output=True, text=True,
                           env=env)
        assert r.returncode == 0, (verb, r.stdout[-2000:], r.stderr[-2000:])
    assert (course / "feedback" / "honest_wrong" / LESSON / f"{LESSON}.html").exists()
    assert "honest_copy3" in (course / "grades.csv").read_text()
    assert gradebook_snapshot(url) == graded  # selfcheck graded in its own scratch gradebook
    rerun = grade(course, [LESSON], jobs=2, limits=LIMITS, progress=False, log=lambda *a: None)
    assert not rerun.jobs and len(rerun.skipped) == len(CLASS)  # the journal holds with PostgreSQL too


def test_grading_on_dask_with_a_postgresql_gradebook(postgres, cluster, tmp_path, class_reference):
    _, client = cluster
    course = make_course(tmp_path / "course", {k: CLASS[k] for k in HONEST})
    url = postgres.database("gradebook_dask")
    with_gradebook(course, url)
    grade(course, [LESSON], limits=LIMITS, progress=False, log=lambda *a: None, client=client)
    expected = {k: v for k, v in scores(class_reference).items() if k[0] in HONEST}
    assert scores(gradebook_snapshot(url)) == expected


def test_a_worker_never_writes_to_a_postgresql_gradebook(postgres, tmp_path):
    """The main process is the gradebook's only writer: a worker executes against its student-free SQLite copy
    even when the course's nbgrader_config.py names a PostgreSQL gradebook."""
    from autograder.gradebook import prepare_lesson
    from autograder.worker import execute, payload

    course = make_course(tmp_path / "course", {"honest": HONEST["honest"]})
    url = postgres.database("gradebook_worker")
    with_gradebook(course, url)
    scratch = tmp_path / "scratch"
    template = scratch / "tpl" / LESSON
    prepare_lesson(course, LESSON, template, scratch)
    before = gradebook_snapshot(url)
    result = execute(payload(course, template, course / "submitted" / "honest" / LESSON, LESSON, "honest", LIMITS))
    assert result["code"] == 0, result.get("log")
    assert all(n["executed"] for n in result["notebooks"].values())  # it did run the notebook
    assert gradebook_snapshot(url) == before  # and wrote nothing to the real gradebook
    assert "honest" not in str(gradebook_snapshot(url))
