"""The tuning's working directory: its layout and atomic writes of state, records, checkpoints.

Layout::

    <working_dir>/tune.json                     what is tuned, and who entered each round
    <working_dir>/jobs/<job>/record.json        epochs done (metrics, timings) or the error
    <working_dir>/jobs/<job>/checkpoints/epoch-0003   (EpochTrainer, one per epoch)
    <working_dir>/jobs/<job>/model              (SimpleTrainer)

``<job>`` is ``c0007`` (candidate 7) or ``c0007-seed3`` with ``seeds``.  Everything is
written to a temporary name and renamed, so a kill at any moment leaves the last
finished epoch intact; the temporary name names its writer (host and pid), so workers
that write the same file at once never remove each other's.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from mushin_nb.errors import MushinFileExistsError, MushinNotADirectoryError, bad_value
from mushin_nb.progress import EVENT_FILE_NAME
from mushin_nb.workflows._claims import pid_alive

__all__ = ["Store", "open_working_dir", "write_atomically"]

STATE_FILE = "tune.json"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _abandoned(tmp: Path, prefix: str) -> bool:
    """Whether the temporary file ``tmp`` was left by a writer on this host that is gone
    (this process's own leftover included); another host's is never judged here."""
    host, _, pid = tmp.name[len(prefix):].rpartition("-")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return int(pid) == os.getpid() or not pid_alive(int(pid))


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, then rename it to ``path``.

    Concurrent writers of ``path`` (workers writing the same selection) each write their
    own temporary file; the last rename wins, and each is whole.
    """
    prefix = f".{path.name}.tmp-"
    for stale in path.parent.glob(f"{prefix}*"):  # left by a killed writer
        if _abandoned(stale, prefix):
            _remove(stale)
    tmp = path.with_name(f"{prefix}{socket.gethostname()}-{os.getpid()}")
    try:
        write(tmp)
    except BaseException:
        _remove(tmp)
        raise
    if not (tmp.exists() or tmp.is_symlink()):
        return  # the writer chose to write nothing
    if path.is_dir():  # os.replace cannot overwrite a non-empty directory
        _remove(path)
    os.replace(tmp, path)


def _dump_json(obj: Any) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        tmp.write_text(json.dumps(obj, indent=1), encoding="utf-8")

    return write


def open_working_dir(working_dir: str | os.PathLike | None) -> Path:
    """Return the tuning's directory, creating it (a fresh unique one when None)."""
    if working_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        while True:  # a random suffix keeps two tunings started in the same second apart
            path = Path("tune") / f"{stamp}-{secrets.token_hex(3)}"
            try:
                path.mkdir(parents=True)
                return path.resolve()
            except FileExistsError:
                continue
    if not isinstance(working_dir, (str, os.PathLike)):
        raise bad_value("working_dir", working_dir, "a path (str or os.PathLike) or None",
                        cls=MushinNotADirectoryError)
    path = Path(working_dir)
    if path.exists() and not path.is_dir():
        raise MushinNotADirectoryError(
            f"`working_dir` must be a directory, not a file, got {str(path)!r}. Fix: pass a "
            "new path (or None for ./tune/<date>-<time>-<suffix>)")
    if path.is_dir() and any(path.iterdir()) and not (path / STATE_FILE).exists():
        raise MushinFileExistsError(
            f"`working_dir` must be a new or empty directory, or one of an earlier tuning "
            f"(with {STATE_FILE}), got {str(path)!r}. Fix: pass a new path so nothing already "
            "there is overwritten")
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


class Store:
    """Reads and atomically writes the files of one working directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def load_state(self) -> dict[str, Any] | None:
        path = self.root / STATE_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def save_state(self, state: dict[str, Any]) -> None:
        write_atomically(self.root / STATE_FILE, _dump_json(state))

    def job_dir(self, job: str) -> Path:
        return self.root / "jobs" / job

    def events_path(self, job: str) -> Path:
        """The event file of ``job`` (progress from the worker that trains it)."""
        return self.job_dir(job) / EVENT_FILE_NAME

    def load_record(self, job: str) -> dict[str, Any] | None:
        path = self.job_dir(job) / "record.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def save_record(self, job: str, record: dict[str, Any]) -> None:
        self.job_dir(job).mkdir(parents=True, exist_ok=True)
        write_atomically(self.job_dir(job) / "record.json", _dump_json(record))

    def checkpoint_path(self, job: str, epoch: int | None) -> Path:
        if epoch is None:
            return self.job_dir(job) / "model"
        return self.job_dir(job) / "checkpoints" / f"epoch-{epoch:04d}"
