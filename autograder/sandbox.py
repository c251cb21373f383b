"""Running a student's notebook in a box: what its kernel may see, and how long, how big and how loud it may get.

The kernel is started as ``bwrap ... -- python -m autograder.sandbox LIMITS -- python -m ipykernel_launcher ...``:

* ``bwrap`` (bubblewrap) gives it a private mount, network, PID, IPC and UTS namespace. The root file
  system is mounted read-only; the course root, the grader's scratch folders, ``/tmp``, ``/var/tmp``,
  ``/root`` and ``/home`` are replaced by empty in-memory folders, and only what a lesson needs is put
  back read-only (the Python installation, the course's ``normlab/``, ``autograder/`` and ``data/``).
  The one writable place is the notebook's own output folder. The kernel talks to the grader over Unix
  sockets in a per-kernel folder (there is no network, not even the host's loopback).
* this module's ``main`` then applies resource limits (address space, file size, processes, no core
  files), drops to an unprivileged user (``nobody``) when started as root, and ``exec``s the kernel.
* on the grader's side, :class:`SandboxedExecute` (nbgrader's ``Execute`` step) enforces a wall-time limit
  for the whole notebook and an output limit, kills the kernel on breach, and marks the cells that could
  not run with an error output that says why, so they score zero and the reason is in the notebook.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from nbformat.notebooknode import NotebookNode

from nbgrader.preprocessors import Execute
from traitlets import Float, Integer, List, Unicode

NOBODY = 65534
LIMIT_ERROR = "GradingLimitError"  # the ename of the error output put in cells a limit stopped


def bwrap_available() -> bool:
    return shutil.which("bwrap") is not None


def python_dirs() -> list[str]:
    """Folders the kernel's Python needs to read: the environment and the interpreter it was made from."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    return sorted(d for d in dirs if d)


def bwrap_command(course_root: Path, writable: Path, runtime: Path, hide: list[Path]) -> list[str]:
    """The ``bwrap`` prefix: read-only system, hidden course and scratch, one writable folder, no network."""
    course_root = course_root.resolve()
    hidden = [course_root, *[p.resolve() for p in hide]]
    package_root = Path(__file__).resolve().parents[1]  # the repository, when installed editable
    if (package_root / "solutions").is_dir():
        hidden.append(package_root)
    for d in ("/tmp", "/var/tmp", "/root", "/home", os.path.expanduser("~")):
        if os.path.isdir(d):
            hidden.append(Path(d).resolve())
    cmd = ["bwrap", "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid", "--unshare-ipc",
           "--unshare-uts", "--unshare-cgroup-try", "--ro-bind", "/", "/",
           "--dev", "/dev", "--proc", "/proc"]
    for d in sorted(set(hidden), key=lambda p: len(p.parts)):
        cmd += ["--perms", "01777", "--size", str(64 << 20), "--tmpfs", str(d)]
    readable = python_dirs() + [str(base / name) for base in {course_root, package_root}
                                for name in ("normlab", "autograder", "data")]
    binds = [("--ro-bind", d) for d in readable if os.path.exists(d)]
    binds += [("--bind", str(writable.resolve())), ("--bind", str(runtime.resolve()))]
    made: set[str] = set()
    for kind, d in binds:
        # bwrap makes missing folders on the way to a mount point private (0700): make them 0755 first,
        # or the unprivileged kernel could not reach what is put back.
        for parent in reversed(Path(d).parents):
            if any(h in parent.parents for h in hidden) and str(parent) not in made:
                made.add(str(parent))
                cmd += ["--perms", "0755", "--dir", str(parent)]
        cmd += [kind, d, d]
    cmd += ["--chdir", str(writable.resolve()), "--clearenv"]
    env = {"PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp",
           "IPYTHONDIR": "/tmp/.ipython", "MPLCONFIGDIR": "/tmp/.mpl", "MPLBACKEND": "agg", "LANG": "C.UTF-8",
           "NBGRADER_EXECUTION": os.environ.get("NBGRADER_EXECUTION", "autograde"), "PYTHONNOUSERSITE": "1",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "MALLOC_ARENA_MAX": "2"}
    env.update({k: v for k, v in os.environ.items() if k.startswith("NORMLAB_")})
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd


# Runs inside the box, before the kernel: limits, then the connection file is handed to ``nobody`` and the
# process becomes ``nobody`` (when started as root), then the kernel replaces it. Plain ``-I -c`` code so that
# nothing of the course is imported with privileges.
_LAUNCHER = """
import json, os, resource, sys
spec, cmd = json.loads(sys.argv[1]), sys.argv[2:]
mb = 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (spec["memory_mb"] * mb,) * 2)
resource.setrlimit(resource.RLIMIT_FSIZE, (spec["file_mb"] * mb,) * 2)
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
if os.getuid() == 0 and spec["uid"] is not None:
    os.chown(spec["connection_file"], spec["uid"], spec["uid"])
    os.setgroups([])
    os.setgid(spec["uid"])
    os.setuid(spec["uid"])
os.execv(cmd[0], cmd)
"""


def limits_command(memory_mb: int, file_mb: int, connection_file: str, drop_to_nobody: bool = True) -> list[str]:
    """The part of the kernel command that applies limits and drops privileges (``_LAUNCHER``)."""
    spec = {"memory_mb": memory_mb, "file_mb": file_mb, "connection_file": connection_file,
            "uid": NOBODY if drop_to_nobody else None}
    return [sys.executable, "-I", "-c", _LAUNCHER, json.dumps(spec)]


class SandboxedExecute(Execute):
    """nbgrader's ``Execute`` with the kernel in the box above and per-notebook limits.

    The wall-time limit covers the whole notebook (each cell also keeps nbgrader's own per-cell
    ``timeout``); the output limit counts every byte a kernel sends as output. On breach the kernel is
    killed and every cell from there on gets an error output naming the limit, so its tests score zero.
    A kernel that dies on its own (``os._exit``, a signal) is handled the same way.
    """

    wall_seconds = Float(600.0, help="wall-time limit for one notebook, all cells together").tag(config=True)
    output_bytes = Integer(1_000_000, help="limit on all output of one notebook, in bytes").tag(config=True)
    memory_mb = Integer(4096, help="address-space limit of the kernel process, MiB").tag(config=True)
    file_mb = Integer(100, help="largest file the kernel may write, MiB").tag(config=True)
    course_root = Unicode("", help="the real course root, hidden from the kernel").tag(config=True)
    hide = List(Unicode(), help="more folders to hide from the kernel (grader scratch)").tag(config=True)
    runtime_dir = Unicode("", help="folder for the kernel's connection file and sockets").tag(config=True)
    report_dir = Unicode("", help="where to write the executed notebook and what stopped it").tag(config=True)
    fresh_modules = List(Unicode(), ["autograder.checks"], help=(
        "packages re-imported from disk before each test cell, so an answer cell that replaced their "
        "functions in memory does not replace the tests")).tag(config=True)
    keep_modules = List(Unicode(), ["autograder.checks._core"], help=(
        "modules kept when the above are re-imported: they hold the references captured at setup, "
        "before any answer ran")).tag(config=True)
    sandbox = Unicode("bwrap", help="'bwrap' or 'none' (limits only; tests and machines without bwrap)"
                      ).tag(config=True)

    def create_kernel_manager(self):
        from jupyter_client import AsyncKernelManager

        box = self

        class BoxedKernelManager(AsyncKernelManager):
            def format_kernel_cmd(self, extra_arguments=None):
                # a signal to bwrap does not reach the kernel inside: interrupt over the control channel
                self.kernel_spec.interrupt_mode = "message"
                cmd = super().format_kernel_cmd(extra_arguments)
                prefix = limits_command(box.memory_mb, box.file_mb, os.path.realpath(self.connection_file),
                                        drop_to_nobody=box.sandbox == "bwrap")
                if box.sandbox == "bwrap":
                    prefix = bwrap_command(Path(box.course_root), Path(box._cwd), Path(box.runtime_dir),
                                           [Path(h) for h in box.hide]) + ["--"] + prefix
                return prefix + cmd

        if not self.kernel_name:
            self.kernel_name = self.nb.metadata.get("kernelspec", {}).get("name") or "python3"
        runtime = Path(self.runtime_dir)
        runtime.mkdir(parents=True, exist_ok=True)
        os.chmod(runtime, 0o777)
        self.km = BoxedKernelManager(kernel_name=self.kernel_name, config=self.config, transport="ipc",
                                     connection_file=str(runtime / "k.json"), ip=str(runtime / "k"))
        return self.km

    def preprocess(self, nb, resources=None, km=None):
        self._cwd = os.path.realpath((resources or {}).get("metadata", {}).get("path") or os.getcwd())
        _open_to_nobody(Path(self._cwd))
        # nbgrader left the sanitized notebook (hidden tests included) in the kernel's folder; it is already
        # in memory and is written back after execution, so the kernel never gets to read it.
        Path(self._cwd, f"{(resources or {}).get('unique_key') or ''}.ipynb").unlink(missing_ok=True)
        self._started = time.monotonic()
        self._deadline = self._started + self.wall_seconds
        self._stopped: str | None = None
        self._output_seen = 0
        self._reasons: list[dict] = []
        self._name = (resources or {}).get("unique_key") or "notebook"
        self._cell_timeout = self.timeout
        self._next = 0
        try:
            nb, resources = super().preprocess(nb, resources, km)
        except Exception as e:  # noqa: BLE001 - the kernel failed to start or broke the protocol
            self._stop(self._stopped or f"the kernel failed: {type(e).__name__}: {str(e)[:200]}")
            marked = {r["cell"] for r in self._reasons}
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code" and index >= self._next and index not in marked:
                    self._mark(cell, index)
        self._report(nb)
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        self._next = index + 1
        if cell.cell_type != "code":
            return cell, resources
        if self._stopped is None and time.monotonic() >= self._deadline:
            self._stop(f"notebook time limit ({self.wall_seconds:g} s) exceeded")
        if self._stopped is not None:
            self._mark(cell, index)
            return cell, resources
        remaining = self._deadline - time.monotonic()
        configured = self._cell_timeout if self._cell_timeout and self._cell_timeout > 0 else remaining
        self.timeout = max(1, int(min(configured, remaining) + 0.999))
        from nbclient.exceptions import DeadKernelError

        try:
            if cell.metadata.get("nbgrader", {}).get("grade") and self.fresh_modules:
                self._refresh_modules()
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._stop(self._stopped or "the kernel died (it exited or was killed)")
        except Exception as e:  # noqa: BLE001 - e.g. no output and no reply after an interrupt
            self._stop(self._stopped or f"cell time limit ({self.timeout} s) exceeded and the kernel did not stop "
                                        f"when interrupted ({type(e).__name__})")
        if self._stopped is None and time.monotonic() >= self._deadline:
            self._stop(f"notebook time limit ({self.wall_seconds:g} s) exceeded")
        if self._stopped is not None:  # this cell hit a limit (or the kernel died under it)
            self._mark(cell, index)
            return cell, resources
        for out in cell.outputs:
            if out.get("output_type") == "error" and out.get("ename") == "MemoryError":
                self._reasons.append({"cell": index, "reason": f"memory limit ({self.memory_mb} MiB) reached"})
        return cell, resources

    def _refresh_modules(self) -> None:
        """Drop the tests' modules from ``sys.modules`` (silently) so the test cell imports them afresh."""
        code = ("import sys as _s\nfor _k in [_k for _k in list(_s.modules) if any(_k == _p or _k.startswith(_p + '.')"
                f" for _p in {list(self.fresh_modules)!r}) and _k not in {list(self.keep_modules)!r}]:\n"
                "    del _s.modules[_k]\ndel _s, _k")
        msg_id = self.kc.execute(code, silent=True, store_history=False)
        self.wait_for_reply(msg_id)

    def output(self, outs, msg, display_id, cell_index):
        if self._stopped is not None:
            return None
        self._output_seen += len(json.dumps(msg.get("content", {})))
        if self._output_seen > self.output_bytes:
            self._stop(f"output limit ({self.output_bytes} bytes) exceeded")
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _stop(self, reason: str) -> None:
        """Record why the notebook stopped and make sure the kernel (and the box around it) is gone."""
        if self._stopped is None:
            self._stopped = reason
        process = getattr(getattr(self.km, "provisioner", None), "process", None) if self.km else None
        if process is not None and process.poll() is None:
            try:
                os.kill(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _mark(self, cell: NotebookNode, index: int) -> None:
        """Give a cell that could not run an error output naming the limit: its tests score zero."""
        cell.outputs = [o for o in cell.outputs if o.get("output_type") != "error"] + [NotebookNode(
            output_type="error", ename=LIMIT_ERROR, evalue=self._stopped,
            traceback=[f"{LIMIT_ERROR}: {self._stopped}"])]
        self._reasons.append({"cell": index, "reason": self._stopped})

    def _report(self, nb) -> None:
        if not self.report_dir:
            return
        out = Path(self.report_dir)
        out.mkdir(parents=True, exist_ok=True)
        import nbformat

        nbformat.write(nb, out / f"{self._name}.ipynb")
        (out / f"{self._name}.limits.json").write_text(json.dumps(
            {"stopped": self._stopped, "cells": self._reasons, "output_bytes": self._output_seen,
             "execute_seconds": round(time.monotonic() - self._started, 3)}))


def _open_to_nobody(folder: Path) -> None:
    """The kernel runs as ``nobody``: let it write its own output folder (and only that)."""
    if os.getuid() != 0:
        return
    for path in [folder, *folder.rglob("*")]:
        try:
            os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
        except OSError:
            pass

