"""The grader's journal: ``autograded/.journal/<lesson>/<student>.json``, written last for each submission, so a
re-run skips what is graded and unchanged, and a killed run's half-done work is graded again."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from .course import CONFIG_FILE, SOURCE


JOURNAL = ".journal"


def journal_path(root: Path, lesson: str, student: str) -> Path:
    return root / "autograded" / JOURNAL / lesson / f"{student}.json"


def read_journal(root: Path, lesson: str, student: str) -> dict | None:
    try:
        return json.loads(journal_path(root, lesson, student).read_text())
    except (OSError, ValueError):
        return None


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def lesson_fingerprint(root: Path, lesson: str, limits) -> str:
    """What grading depends on besides the submission: the lesson source, the config, the limits."""
    h = hashlib.sha256()
    for path in sorted((root / SOURCE / lesson).rglob("*")):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts:
            h.update(str(path.relative_to(root)).encode() + hashlib.sha256(path.read_bytes()).digest())
    h.update((root / CONFIG_FILE).read_bytes())
    h.update(json.dumps(asdict(limits), sort_keys=True).encode())
    return h.hexdigest()
