"""One runner per job: a lease file in the job's directory, created atomically.

A runner (a ``sweep()`` call, in any process on any host that sees the working dir)
claims a job before running it by creating ``<job>/.mushin/lease.json`` with
``os.link`` (which fails when the file exists), naming its host, pid, a runner id and a
heartbeat that a thread refreshes.  Another runner over the same directory skips a
claimed job and waits for its record.  A lease whose runner died (its pid gone on this
host, or no new heartbeat for :func:`lease_seconds` by this host's own clock) is taken
over: the taker first links the stale lease to a name only one taker can create, so two
takers never both win.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mushin_nb.workflows import _store
from mushin_nb.workflows._jobs import JobOutcome, finish, tell_end

__all__ = ["LEASE_ENV", "LEASE_NAME", "Claims", "await_jobs", "clear_stale", "lease_seconds",
           "read_lease", "settle", "stale", "take"]

LEASE_NAME = "lease.json"
#: Environment variable: seconds without a heartbeat after which a lease is stale.
LEASE_ENV = "MUSHIN_LEASE_S"
_DEFAULT_LEASE_S = 30.0


def lease_seconds() -> float:
    """Seconds without a heartbeat after which another runner takes a job over.

    Examples
    --------
    >>> lease_seconds() > 0
    True
    """
    try:
        value = float(os.environ.get(LEASE_ENV, _DEFAULT_LEASE_S))
    except ValueError:
        value = _DEFAULT_LEASE_S
    return value if value > 0 else _DEFAULT_LEASE_S


def _lease_path(job_dir: Path) -> Path:
    return job_dir / _store.RECORD_DIR / LEASE_NAME


def read_lease(job_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The lease of ``job_dir`` (host, pid, runner, heartbeat...), or None when unclaimed."""
    try:
        return json.loads(_lease_path(Path(job_dir)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs on this host (a zombie, killed but not reaped, is dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] != "Z"
    return True


#: What this process has seen of other hosts' leases: ``(lease, runner) -> (heartbeat,
#: when first seen with it)``, on this process's monotonic clock.
_SEEN: dict[tuple[str, str], tuple[Any, float]] = {}
_SEEN_LOCK = threading.Lock()


def stale(info: dict[str, Any], ttl: float | None = None,
          where: str | os.PathLike | None = None) -> bool:
    """True when the runner that holds a lease is gone.

    A runner on this host is gone when its pid is, or when its heartbeat is older than
    ``ttl``.  Another host's clock may differ from this one, so its heartbeat is not
    compared with this clock: the runner is gone when the heartbeat of its lease (at
    ``where``, the job's directory) has not changed for ``ttl`` seconds, watched from the
    first look on; a first look never finds it gone.

    Examples
    --------
    >>> import os, socket, time
    >>> me = {"host": socket.gethostname(), "pid": os.getpid(), "heartbeat": time.time()}
    >>> far = {"host": "elsewhere", "runner": "r1", "heartbeat": time.time() - 3600}
    >>> stale(me), stale(far, ttl=0.05, where="job")
    (False, False)
    >>> time.sleep(0.1)
    >>> stale(far, ttl=0.05, where="job")  # the same heartbeat for longer than ttl
    True
    """
    ttl = lease_seconds() if ttl is None else ttl
    try:
        if info.get("host") == socket.gethostname():
            if not pid_alive(int(info["pid"])):
                return True
            return time.time() - float(info["heartbeat"]) > ttl
        key, beat = (str(where), str(info["runner"])), info["heartbeat"]
    except (KeyError, TypeError, ValueError):
        return True
    return _unchanged_for(key, beat, ttl)


def _unchanged_for(key: tuple[str, str], value: Any, ttl: float) -> bool:
    """Whether ``value`` under ``key`` has been seen unchanged for more than ``ttl``
    seconds of this process's monotonic clock; a first look (or a changed value) starts
    the watch and says False."""
    now = time.monotonic()
    with _SEEN_LOCK:
        seen = _SEEN.get(key)
        if seen is None or seen[0] != value:
            if len(_SEEN) > 4096:  # forgetting only restarts a watch
                _SEEN.clear()
            _SEEN[key] = (value, now)
            return False
        return now - seen[1] > ttl


class Claims:
    """The leases one runner holds; a context manager that keeps their heartbeat.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> tmp = tempfile.TemporaryDirectory()
    >>> job = Path(tmp.name) / "0"
    >>> with Claims() as mine, Claims() as other:
    ...     mine.claim(job, num=0, overrides=["+x=1"]), other.claim(job)
    (True, False)
    >>> read_lease(job) is None  # released on exit
    True
    >>> tmp.cleanup()
    """

    def __init__(self, ttl: float | None = None) -> None:
        self.ttl = lease_seconds() if ttl is None else float(ttl)
        self.runner = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._held: dict[Path, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Claims:
        self._thread = threading.Thread(target=self._beat, name="mushin-lease", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for job_dir in list(self._held):
            self.release(job_dir)

    def holds(self, job_dir: Path) -> bool:
        """True when this runner holds ``job_dir``'s lease."""
        return Path(job_dir) in self._held

    def claim(self, job_dir: str | os.PathLike, *, num: int | None = None,
              overrides: list[str] | None = None) -> bool:
        """Claim ``job_dir`` (made if missing); False when another live runner holds it."""
        job_dir = Path(job_dir)
        if job_dir in self._held:
            return True
        path = _lease_path(job_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        now = time.time()
        info = {"host": self.host, "pid": self.pid, "runner": self.runner, "started": now,
                "heartbeat": now, "num": num, "overrides": list(overrides or [])}
        for _ in range(4):
            if _create(path, info):
                with self._lock:
                    self._held[job_dir] = info
                return True
            current = read_lease(job_dir)
            if current is None:
                continue  # released between our two looks
            if not stale(current, self.ttl, job_dir) or not _take_over(path, current,
                                                                        self.ttl):
                return False
        return False

    def release(self, job_dir: str | os.PathLike) -> None:
        """Remove this runner's lease of ``job_dir`` (after the job's record is written)."""
        job_dir = Path(job_dir)
        with self._lock:
            self._held.pop(job_dir, None)
        current = read_lease(job_dir)
        if current is not None and current.get("runner") == self.runner:
            _lease_path(job_dir).unlink(missing_ok=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl / 4):
            with self._lock:
                held = list(self._held.items())
            for job_dir, info in held:
                current = read_lease(job_dir)
                if current is None or current.get("runner") != self.runner:
                    with self._lock:  # taken over while this runner was stuck
                        self._held.pop(job_dir, None)
                    continue
                info["heartbeat"] = time.time()
                with contextlib.suppress(OSError):
                    _store.write_text_atomic(_lease_path(job_dir), json.dumps(info))


def _create(path: Path, info: dict[str, Any]) -> bool:
    """Create ``path`` holding ``info`` whole, or return False when it exists."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(info), encoding="utf-8")
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _take_over(path: Path, seen: dict[str, Any], ttl: float) -> bool:
    """Remove the stale lease ``seen``; True when the caller may try to create its own."""
    token = path.with_name(f"{path.name}.taken-{seen.get('runner')}-{seen.get('heartbeat')}")
    try:
        os.link(path, token)  # only one taker can create the token
    except FileNotFoundError:
        return True
    except FileExistsError:
        with contextlib.suppress(OSError):  # a taker that died while taking over: its
            st = token.stat()  # token unchanged for ttl here (its mtime is another clock's)
            if _unchanged_for((str(token), "token"), (st.st_ino, st.st_mtime_ns), ttl):
                token.unlink()
        return False
    try:
        now = json.loads(token.read_text(encoding="utf-8"))
        same = (now.get("runner"), now.get("heartbeat")) == (seen.get("runner"),
                                                             seen.get("heartbeat"))
        if same and os.stat(path).st_ino == os.stat(token).st_ino:
            path.unlink()
        return same
    except (OSError, ValueError):
        return False
    finally:
        token.unlink(missing_ok=True)


def await_jobs(job_dirs: list[Path], claims: Claims, poll: float = 0.05,
               finished: Callable[[Path], bool] | None = None
               ) -> Iterator[tuple[Path, bool]]:
    """Wait for jobs other runners hold; yield ``(job_dir, take)`` as each settles.

    ``take`` is False when the other runner finished (``finished(job_dir)``, by default:
    the job's final record is there) and True when this runner now holds the job and must
    run it: its runner died (lease taken over) or let it go unfinished.
    """
    done = _finished if finished is None else finished
    remaining = list(job_dirs)
    while remaining:
        for job_dir in list(remaining):
            info = read_lease(job_dir)
            if info is None and done(job_dir):
                remaining.remove(job_dir)
                yield job_dir, False
            elif (info is None or stale(info, claims.ttl, job_dir)) and claims.claim(job_dir):
                remaining.remove(job_dir)
                yield job_dir, True
        if remaining:
            time.sleep(poll)


def clear_stale(job_dir: Path) -> None:
    """Remove ``job_dir``'s lease when its runner is gone (a finished job's leftover)."""
    info = read_lease(job_dir)
    if info is not None and stale(info, where=job_dir):
        _take_over(_lease_path(job_dir), info, lease_seconds())


def _finished(job_dir: Path) -> bool:
    record = _store.read_record(job_dir)
    return record is not None and record.get("status") in ("done", "failed", "skipped")


def take(job: JobOutcome, claims: Claims, sink: Any) -> bool:
    """Claim ``job``; True when this runner must run it.

    False when another live runner holds it, or when another runner finished it since
    this sweep was planned (then ``job`` has that record and the sink was told).
    """
    if not claims.claim(job.job_dir, num=job.num, overrides=job.overrides):
        return False
    record = _store.read_record(job.job_dir)
    if record is not None and record.get("status") in ("done", "failed", "skipped") and (
            record.get("finished", 0) >= job.planned_at):
        claims.release(job.job_dir)
        finish(job, record)
        tell_end(sink, job)
        return False
    return True


def settle(elsewhere: list[JobOutcome], claims: Claims, run: Callable[[JobOutcome], None],
           sink: Any) -> None:
    """Wait for the jobs other runners hold; run those whose runner died."""
    by_dir = {job.job_dir: job for job in elsewhere}
    for job_dir, taken in await_jobs(list(by_dir), claims):
        job = by_dir[job_dir]
        if taken and take(job, claims, sink):
            run(job)
        elif not job.ran:
            finish(job, _store.read_record(job_dir))
            tell_end(sink, job)
