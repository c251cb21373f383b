"""Running a student's notebook in a box: what its kernel may see, and how long, how big and how loud it may get.

The kernel is started as ``bwrap ... -- python -I -c LAUNCHER LIMITS -- python -m ipykernel_launcher ...``:

* ``bwrap`` (bubblewrap) gives it a private mount, network, PID, IPC and UTS namespace. Its file system is
  built from nothing: the system's libraries (``/usr``, ``/etc``, read-only), the Python installation and the
  course's ``normlab/``, ``autograder/`` and ``data/`` (read-only), an empty ``/tmp``, private ``/dev`` and
  ``/proc``. No other host folder exists in the box: not the course root, not the grader's scratch, no host
  socket (``/run``, ``/var``), no other copy of the course. The one writable place is a fresh working folder
  holding copies of the submission's files; the kernel talks to the grader over Unix sockets in a fresh
  runtime folder (there is no network, not even the host's loopback). Both are deleted when it ends, and
  nothing in them is ever opened by the grader: nbgrader's own output folder is never in the box.
* the launcher then applies resource limits (address space, file size, processes and threads, open files,
  no core files), drops to an unprivileged user of its own (see ``KERNEL_UID``) when started as root,
  and ``exec``s the kernel.
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
import tempfile
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


#: System folders the kernel's Python and its libraries read. Nothing else of the host is shown: no ``/run``,
#: ``/var``, ``/srv``, ``/opt``, ``/home`` or ``/root`` (their sockets, and any other copy of the course, stay
#: out of reach), and ``/sys`` only for the CPU description torch reads at import.
SYSTEM_DIRS = ("/usr", "/etc", "/sys/devices/system/cpu")
#: Each kernel runs as a user of its own (``KERNEL_UID`` + the worker's pid x 64 + a slot: unique on the
#: machine while it runs; see ``autograder.worker``), with no entry in
#: ``/etc/passwd``, so the process limit (``RLIMIT_NPROC`` counts a user's processes and threads) is its own
#: and a fork bomb in one kernel cannot starve the kernel graded beside it.
KERNEL_UID = 2_100_000_000
#: A Unix socket's path holds at most 107 bytes; the kernel's are ``<runtime folder>/k-<number>``. A deeper
#: runtime folder (a long TMPDIR) is replaced by one in ``SHORT_DIR``, named so that a killed grader's is found.
SOCKET_DIR_MAX, SHORT_DIR = 90, "/tmp"
MAX_PROCESSES = 256  # processes and threads of one kernel (an honest one uses about 20)


def bwrap_command(course_root: Path, writable: Path, runtime: Path) -> list[str]:
    """The ``bwrap`` prefix: only the system's read-only libraries, the Python installation and the course's
    ``normlab/``, ``autograder/`` and ``data/``; one writable folder; no network; empty ``/tmp``."""
    package_root = Path(__file__).resolve().parents[1]  # the repository, when installed editable
    cmd = ["bwrap", "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid", "--unshare-ipc",
           "--unshare-uts", "--unshare-cgroup-try"]
    for d in SYSTEM_DIRS:
        if os.path.isdir(d):
            cmd += ["--ro-bind", d, d]
    for link in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(link):  # merged /usr: /bin -> usr/bin
            cmd += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            cmd += ["--ro-bind", link, link]
    cmd += ["--dev", "/dev", "--proc", "/proc", "--perms", "01777", "--size", str(256 << 20), "--tmpfs", "/tmp"]
    readable = python_dirs() + [str(base / name) for base in {course_root.resolve(), package_root}
                                for name in ("normlab", "autograder", "data")]
    binds = [("--ro-bind", d) for d in readable if os.path.exists(d) and not _under(d, SYSTEM_DIRS)]
    binds += [("--bind", str(writable.resolve())), ("--bind", str(runtime.resolve()))]
    made: set[str] = set()
    for kind, d in binds:
        # bwrap makes missing folders on the way to a mount point private (0700): make them 0755 first,
        # or the unprivileged kernel could not reach what is put back.
        for parent in reversed(Path(d).parents):
            if str(parent) not in made and not _under(str(parent), SYSTEM_DIRS) and str(parent) != "/":
                made.add(str(parent))
                cmd += ["--perms", "0755", "--dir", str(parent)]
        cmd += [kind, d, d]
    cmd += ["--chdir", str(writable.resolve()), "--clearenv"]
    env = {"PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp",
           "USER": "student", "LOGNAME": "student",
           "IPYTHONDIR": "/tmp/.ipython", "MPLCONFIGDIR": "/tmp/.mpl", "MPLBACKEND": "agg", "LANG": "C.UTF-8",
           "NBGRADER_EXECUTION": os.environ.get("NBGRADER_EXECUTION", "autograde"), "PYTHONNOUSERSITE": "1",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "MALLOC_ARENA_MAX": "2"}
    env.update({k: v for k, v in os.environ.items() if k.startswith("NORMLAB_")})
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd


def _under(path: str, folders) -> bool:
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


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
resource.setrlimit(resource.RLIMIT_NPROC, (spec["processes"],) * 2)
if os.getuid() == 0 and spec["uid"] is not None:
    os.chown(spec["connection_file"], spec["uid"], spec["uid"])
    os.setgroups([])
    os.setgid(spec["uid"])
    os.setuid(spec["uid"])
os.execv(cmd[0], cmd)
"""


def limits_command(memory_mb: int, file_mb: int, connection_file: str, uid: int | None = NOBODY,
                   processes: int = MAX_PROCESSES) -> list[str]:
    """The part of the kernel command that applies limits and drops privileges to ``uid`` (``_LAUNCHER``).
    ``uid=None`` keeps the current user (grading without the sandbox, or not as root)."""
    spec = {"memory_mb": memory_mb, "file_mb": file_mb, "connection_file": connection_file, "uid": uid,
            "processes": processes}
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
    uid = Integer(NOBODY, help="the user the kernel runs as (when the grader runs as root)").tag(config=True)
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
                                        uid=box.uid if box.sandbox == "bwrap" else None)
                if box.sandbox == "bwrap":
                    prefix = bwrap_command(Path(box.course_root), box._work, box._runtime) + ["--"] + prefix
                return prefix + cmd

        if not self.kernel_name:
            self.kernel_name = self.nb.metadata.get("kernelspec", {}).get("name") or "python3"
        self.km = BoxedKernelManager(kernel_name=self.kernel_name, config=self.config, transport="ipc",
                                     connection_file=str(self._runtime / "k.json"), ip=str(self._runtime / "k"))
        return self.km

    def preprocess(self, nb, resources=None, km=None):
        """Execute ``nb`` in a fresh box folder that nothing outside the kernel reads or writes afterwards.

        nbgrader's own folder for the notebook (``resources["metadata"]["path"]``, where it writes the graded
        notebook and then changes permissions) is never given to the kernel: the kernel gets a new folder
        holding copies of the submission's other files, and a new folder for its connection file and sockets.
        Whatever it leaves there (links, FIFOs, devices, hard links) is deleted, never opened, when it ends."""
        resources = resources if resources is not None else {}
        metadata = resources.setdefault("metadata", {})
        source = Path(os.path.realpath(metadata.get("path") or os.getcwd()))
        Path(self.runtime_dir).mkdir(parents=True, exist_ok=True)
        box = Path(tempfile.mkdtemp(prefix="box-", dir=self.runtime_dir))
        self._work, self._runtime = box / "work", box / "rt"
        if len(str(self._runtime)) > SOCKET_DIR_MAX:  # the kernel's sockets would not fit: a short folder instead
            self._runtime = Path(tempfile.mkdtemp(prefix=f"nlg-{os.getpid()}-rt-", dir=SHORT_DIR))
        else:
            self._runtime.mkdir()
        _copy_plain_files(source, self._work)
        os.chmod(self._runtime, 0o777)
        if self.sandbox == "bwrap":
            _hand_to(self._work, self.uid)
        self._started = time.monotonic()
        self._deadline = self._started + self.wall_seconds
        self._stopped: str | None = None
        self._stopped_code = ""
        self._output_seen = 0
        self._reasons: list[dict] = []
        self._name = resources.get("unique_key") or "notebook"
        self._cell_timeout = self.timeout
        self._next = 0
        metadata["path"] = str(self._work)
        try:
            nb, resources = super().preprocess(nb, resources, km)
        except Exception as e:  # noqa: BLE001 - the kernel failed to start or broke the protocol
            self._stop(f"the kernel failed ({type(e).__name__})", "kernel_died")
            marked = {r["cell"] for r in self._reasons}
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code" and index >= self._next and index not in marked:
                    self._mark(cell, index)
        finally:
            metadata["path"] = str(source)
            shutil.rmtree(box, ignore_errors=True)  # unlinks what the kernel left, follows no link
            shutil.rmtree(self._runtime, ignore_errors=True)
        self._report(nb)
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        self._next = index + 1
        if cell.cell_type != "code":
            return cell, resources
        if self._stopped is None and time.monotonic() >= self._deadline:
            self._stop(f"notebook time limit ({self.wall_seconds:g} s) exceeded", "time_limit")
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
            self._stop("the kernel died (it exited or was killed)", "kernel_died")
        except Exception as e:  # noqa: BLE001 - e.g. no output and no reply after an interrupt
            self._stop(f"cell time limit ({self.timeout} s) exceeded and the kernel did not stop when interrupted "
                       f"({type(e).__name__})", "time_limit")
        if self._stopped is None and time.monotonic() >= self._deadline:
            self._stop(f"notebook time limit ({self.wall_seconds:g} s) exceeded", "time_limit")
        if self._stopped is not None:  # this cell hit a limit (or the kernel died under it)
            self._mark(cell, index)
            return cell, resources
        for out in cell.outputs:
            if out.get("output_type") == "error" and out.get("ename") == "MemoryError":
                self._reasons.append({"cell": index, "reason": f"memory limit ({self.memory_mb} MiB) reached",
                                      "code": "memory_limit"})
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
            self._stop(f"output limit ({self.output_bytes} bytes) exceeded", "output_limit")
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _stop(self, reason: str, code: str) -> None:
        """Record why the notebook stopped (the first reason wins) and make sure the kernel (and the box around
        it) is gone. ``code`` is what the grader decides the submission's status from."""
        if self._stopped is None:
            self._stopped, self._stopped_code = reason, code
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
        self._reasons.append({"cell": index, "reason": self._stopped, "code": self._stopped_code})

    def _report(self, nb) -> None:
        if not self.report_dir:
            return
        out = Path(self.report_dir)
        out.mkdir(parents=True, exist_ok=True)
        import nbformat

        nbformat.write(nb, out / f"{self._name}.ipynb")
        (out / f"{self._name}.limits.json").write_text(json.dumps(
            {"stopped": self._stopped, "code": self._stopped_code, "cells": self._reasons,
             "output_bytes": self._output_seen, "execute_seconds": round(time.monotonic() - self._started, 3)}))


def _copy_plain_files(source: Path, dest: Path) -> None:
    """Regular files of ``source`` (nbgrader's copy of the staged submission) into ``dest``, notebooks left
    out: the one being graded is in memory with its hidden tests, and must not be readable by the kernel."""
    dest.mkdir()
    for folder, dirs, files in os.walk(source):
        rel = Path(folder).relative_to(source)
        for d in dirs:
            if not os.path.islink(os.path.join(folder, d)):
                (dest / rel / d).mkdir()
        for name in files:
            path = Path(folder, name)
            if name.endswith(".ipynb") or path.is_symlink() or not path.is_file():
                continue
            shutil.copyfile(path, dest / rel / name, follow_symlinks=False)


def _hand_to(folder: Path, uid: int) -> None:
    """The kernel runs as ``uid``: let it write its own working folder (and only that)."""
    if os.getuid() != 0:
        return
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)
