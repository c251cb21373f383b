"""A real PostgreSQL server for the tests, started by the tests themselves: ``initdb`` in a temporary folder,
run as an unprivileged user (``postgres``, else ``nobody``, when the tests run as root), listening on a free
port of 127.0.0.1 only, with trust authentication, stopped (fast) at the end.

Needs Debian's ``postgresql`` package (``initdb`` and ``pg_ctl`` on the PATH or under
``/usr/lib/postgresql/<version>/bin``), which ``./course test`` installs when it runs as root.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path


def bindir() -> Path | None:
    """The folder of PostgreSQL's server programs, or None when it is not installed."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def _user() -> pwd.struct_passwd | None:
    """The unprivileged user the server runs as (None: the current one, when not root)."""
    if os.getuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("no unprivileged user (postgres or nobody) to run PostgreSQL as")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """``with PostgresServer(folder) as pg: url = pg.database("name")``."""

    def __init__(self, folder: Path):
        self.bin = bindir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
        self.folder, self.user, self.port = folder, _user(), _free_port()
        self.data, self.sockets, self.log = folder / "data", folder / "sockets", folder / "server.log"

    def _run(self, *cmd: str) -> None:
        ids = {} if self.user is None else {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=self.folder, **ids)
        if r.returncode:
            raise RuntimeError(f"{cmd[0]} failed: {r.stdout[-2000:]}{r.stderr[-2000:]}")

    def __enter__(self) -> PostgresServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir()
        if self.user is not None:
            for path in (self.folder, self.sockets):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "normlab", "--auth=trust", "-E", "UTF8",
                  "--no-locale")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o",
                  f"-p {self.port} -h 127.0.0.1 -k {self.sockets} -c fsync=off -c synchronous_commit=off", "start")
        return self

    def __exit__(self, *exc) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://normlab@127.0.0.1:{self.port}/{database}"

    def database(self, name: str) -> str:
        """A new, empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def is_running(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0
