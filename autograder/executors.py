"""Where submissions execute: a pool of worker processes on this machine (``grade --jobs N``, the default) or the
workers of a ``dask.distributed`` cluster (``grade --scheduler ADDRESS``). Both run
:func:`autograder.worker.execute` on a job's payload and hand back its result; the grader's main process stays
the only one that writes the gradebook.

An executor has ``free()`` (how many more jobs it takes now), ``submit(key, payload)``, ``done()`` (the jobs
that ended since the last call, as ``(key, result, problem)``: ``result`` is :func:`~autograder.worker.execute`'s
dict, or None with ``problem = (code, text)`` saying why there is none) and ``close()``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class _Worker:
    """A persistent local worker process (nbgrader imported once) that executes the jobs it is handed one by one."""

    def __init__(self, k: int, scratch: Path, env: dict):
        from .worker import _die_with_parent

        self.log = scratch / f"worker-{k}.log"
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "autograder.worker", "--serve"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=log, env=env, cwd=scratch, text=True,
                                         start_new_session=True, preexec_fn=_die_with_parent)
        self.job: tuple | None = None  # (key, job file, started)

    def answer(self) -> int | None:
        """The job's exit status once the worker has answered (or died); None while it runs."""
        if select.select([self.proc.stdout], [], [], 0)[0]:
            line = self.proc.stdout.readline()
            if line.strip().lstrip("-").isdigit():
                return int(line)
        if self.proc.poll() is not None:
            return self.proc.returncode or -1
        return None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def last_log_line(self) -> str:
        lines = self.log.read_text(errors="replace").strip().splitlines()
        return lines[-1][:300] if lines else "?"


class LocalPool:
    """``jobs`` worker processes on this machine, each killed after ``backstop`` seconds on one job (the worker
    enforces the notebook's time limit itself; this catches a stuck worker)."""

    def __init__(self, jobs: int, scratch: Path, backstop: float):
        self.scratch, self.backstop, self.count = scratch, backstop, 0
        self.env = dict(os.environ, OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 1) // jobs)),
                        PYTHONWARNINGS="ignore", TMPDIR=tempfile.gettempdir())  # the grader's scratch
        (scratch / "jobs").mkdir(exist_ok=True)
        self.workers = [_Worker(k, scratch, self.env) for k in range(jobs)]

    def free(self) -> int:
        return sum(w.job is None for w in self.workers)

    def submit(self, key, payload: dict) -> None:
        k, worker = next((k, w) for k, w in enumerate(self.workers) if w.job is None)
        if worker.proc.poll() is not None:
            worker = self.workers[k] = _Worker(k, self.scratch, self.env)
        self.count += 1
        path = self.scratch / "jobs" / f"{self.count}.pkl"
        path.write_bytes(pickle.dumps(payload))
        worker.proc.stdin.write(f"{path}\n")
        worker.proc.stdin.flush()
        worker.job = (key, path, time.monotonic())

    def done(self) -> list[tuple]:
        out = []
        for k, worker in enumerate(self.workers):
            if worker.job is None:
                continue
            key, path, started = worker.job
            code = worker.answer()
            problem = None
            if code is None and time.monotonic() - started > self.backstop:
                worker.kill()
                code, problem = -9, ("worker_killed", f"grader worker killed after {self.backstop:g} s")
            if code is None:
                continue
            result_file = path.with_name(path.name + ".out")
            if problem is None and code != 0 and not result_file.exists():
                problem = ("worker_failed", f"grader worker failed: {worker.last_log_line()}")
            result = pickle.loads(result_file.read_bytes()) if result_file.exists() else None
            path.unlink(missing_ok=True)
            result_file.unlink(missing_ok=True)
            if worker.proc.poll() is not None:
                self.workers[k] = _Worker(k, self.scratch, self.env)  # a fresh worker for the next job
            else:
                worker.job = None
            out.append((key, result, problem))
        return out

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()


class DaskPool:
    """The workers of the ``dask.distributed`` cluster whose scheduler is at ``address``. Each worker needs the
    course's environment (``pip install -r requirements.txt`` and this package) and ``bwrap``; payloads carry
    everything else. A worker that dies mid-notebook loses nothing: the scheduler runs the job again on another
    worker, and its one result is recorded once. At most ``2 x`` the cluster's threads are in flight, so a
    large class is not staged into memory at once."""

    def __init__(self, address: str, backstop: float, client=None):
        from distributed import Client

        self.own_client = client is None  # a client handed in is the caller's to close
        self.client = client or Client(address, timeout="30s")
        self.backstop = backstop
        self.limit = max(1, 2 * sum(self.client.nthreads().values()))
        self.futures: dict = {}

    def free(self) -> int:
        return self.limit - len(self.futures)

    def submit(self, key, payload: dict) -> None:
        from .worker import execute

        future = self.client.submit(execute, payload, pure=False)
        self.futures[future] = (key, time.monotonic())

    def done(self) -> list[tuple]:
        out = []
        for future, (key, started) in list(self.futures.items()):
            if future.done():
                del self.futures[future]
                try:
                    out.append((key, future.result(), None))
                except Exception as e:  # noqa: BLE001 - e.g. KilledWorker: the job's workers kept dying
                    out.append((key, None, ("worker_failed", f"cluster worker failed ({type(e).__name__}: "
                                                             f"{str(e)[:200]})")))
            elif time.monotonic() - started > self.backstop:
                del self.futures[future]
                future.cancel()
                out.append((key, None, ("worker_killed", f"cluster job abandoned after {self.backstop:g} s")))
        return out

    def close(self) -> None:
        for future in self.futures:
            future.cancel()
        if self.own_client:
            self.client.close()
