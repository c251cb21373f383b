"""A throw-away JupyterLab server for the browser test: own port, token, settings and process group.

``LabServer(root, log).start()`` runs ``python -m jupyter lab`` from the test's own interpreter with
``root`` as its root and working directory (nbgrader's Validate reads ``nbgrader_config.py`` from the
server's working directory, not from its root), on a free localhost port, with the user's Jupyter and IPython
folders replaced by empty ones next to ``log`` so nothing from the machine's own settings leaks in.
``stop()`` ends the server, its kernels and anything else it started; ``assert_stopped()`` checks that the
port is free again.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# JupyterLab settings for a scripted session. Windowing off: every cell stays in the DOM, so cells below the
# fold can be clicked and their plots counted. No news or update checks: nothing pops up, nothing goes online.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}
# Variables that would change what a kernel does: a non-inline matplotlib backend hides every plot, and
# nbgrader's variables make the lesson shrink its demonstrations as if it were being graded.
DROP_ENV = ("MPLBACKEND", "NBGRADER_EXECUTION", "NBGRADER_VALIDATING", "JUPYTER_TOKEN", "JUPYTER_PORT")


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time) of every process, from /proc (Linux); empty elsewhere."""
    out = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # it ended meanwhile
        out[int(entry.name)] = (int(fields[1]), fields[19])
    return out


def descendants(pid: int) -> dict[int, str]:
    """The processes below ``pid`` (children, grandchildren, ...), each with its start time."""
    table = _processes()
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, started) in table.items():
            if ppid == parent and child not in found:
                found[child] = started
                todo.append(child)
    return found


def alive(processes: dict[int, str]) -> dict[int, str]:
    """Those of ``processes`` still running: same pid and same start time (so not a reused pid), not a zombie."""
    table = _processes()
    out = {}
    for pid, started in processes.items():
        if pid in table and table[pid][1] == started:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
            except OSError:
                continue
            if state != "Z":
                out[pid] = started
    return out


def end(processes: dict[int, str], timeout: float = 10) -> None:
    """SIGTERM each of ``processes`` still running, then SIGKILL what is left after ``timeout``."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        for pid in alive(processes):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while alive(processes) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not alive(processes):
            return


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True when nothing listens on ``port`` (connections of the old server in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen(1)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return False
            raise
    return True


class LabServer:
    def __init__(self, root: Path, log: Path, start_timeout: float = 180):
        self.root = Path(root)
        self.log = Path(log)
        self.start_timeout = start_timeout
        self.port = 0
        self.token = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}?token={self.token}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- last {lines} lines of the JupyterLab log {self.log} ---\n{tail}"

    def api(self, path: str, method: str = "GET", timeout: float = 10):
        request = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """End every session and kernel (the notebooks a test opened), keeping the server."""
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE", timeout=60)
        for kernel in self.api("kernels"):
            self.api(f"kernels/{kernel['id']}", method="DELETE", timeout=60)

    def start(self) -> LabServer:
        private = self.log.parent / "jupyter"
        settings = private / "settings"
        for name, values in SETTINGS.items():
            plugin, _, file = name.rpartition("/")
            folder = settings / plugin
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{file}.jupyterlab-settings").write_text(json.dumps(values))
        env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
        for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                         ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                         ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")):
            (private / sub).mkdir(parents=True, exist_ok=True)
            env[var] = str(private / sub)
        env["PYTHONUNBUFFERED"] = "1"
        self.port = free_port()
        cmd = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={private / 'workspaces'}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # containers and CI runners often run as root
        self._log_file = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with status {self.proc.returncode} while starting\n"
                                   + self.log_tail())
            try:
                self.api("status", timeout=5)
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"JupyterLab did not answer /api/status within {self.start_timeout:.0f} s\n"
                                   + self.log_tail())
            time.sleep(0.5)

    def stop(self, timeout: float = 20) -> None:
        """Stop the server's process group, then whatever it started in sessions of their own (kernels)."""
        if self.proc is None:
            return
        spawned = descendants(self.proc.pid)
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)  # the server was started as the leader of its own group
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # jupyter_client starts each kernel in a new session, outside the server's group: the server shuts
        # them down on SIGTERM; any that outlived it are ended here, one by one.
        end(spawned)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self.proc = None

    def assert_stopped(self) -> None:
        deadline = time.monotonic() + 15
        while not port_is_free(self.port):
            if time.monotonic() > deadline:
                raise AssertionError(f"port {self.port} is still in use after JupyterLab was stopped")
            time.sleep(0.25)
