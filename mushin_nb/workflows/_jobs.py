"""A sweep's jobs in memory, and the body that runs one job and records how it ended.

:class:`SweepSpec` is what a workflow asks for, :class:`JobOutcome` one grid cell and
:class:`SweepResult` what :func:`~mushin_nb.workflows._launcher.execute` hands back.
:func:`run_job_body` is the same for every launcher: it runs the task, never lets an
``Exception`` out, and writes the job's result record (and events, in a worker process).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mushin_nb.errors import JobSkipped, MushinTypeError, describe
from mushin_nb.progress import EVENT_FILE_ENV, EVENT_FILE_NAME, write_event
from mushin_nb.workflows._placement import visible_devices
from mushin_nb.workflows._store import (
    RECORD_DIR,
    RECORD_NAME,
    encode,
    error_record,
    to_numpy,
    write_record,
)

__all__ = ["FAST", "JobOutcome", "SweepResult", "SweepSpec", "finish", "run_job_body",
           "tell_end"]

#: Name of the in-process launcher (also what ``launcher=None`` means).
FAST = "mushin"


@dataclass
class SweepSpec:
    """Everything a sweep needs; built by the workflows, consumed by :func:`execute`."""

    config: Any
    body: Callable[[Any], Any]
    overrides: list[str]
    validate: Callable[[Any], None] | None = None
    working_dir: str | os.PathLike | None = None
    launcher: str | None = None
    sweeper: str | None = None
    version_base: Any = "1.1"
    to_dictconfig: bool = False
    config_name: str = "rai_workflow"
    job_name: str = "rai_workflow"
    with_log_configuration: bool = True
    resume: bool = True
    progress: Any = True
    title: str | None = None
    plain: bool = False  # the body takes a dict of parameters (sweep()); no OmegaConf needed
    threads: int = 1  # in-process jobs run at once (threads; no per-job cwd or logging)
    gpus_per_job: float | None = None  # checked by _placement.check_gpus_per_job


@dataclass
class JobOutcome:
    """One grid cell of a finished sweep."""

    index: int
    num: int
    job_dir: Path
    overrides: list[str]
    label: str
    status: str = "pending"  # "done" | "failed" | "skipped" after the sweep
    return_value: Any = None
    error: str | None = None
    traceback_path: Path | None = None
    ran: bool = False
    cfg: Any = None
    duration_s: float | None = None
    existed: bool = False  # found on disk when the sweep was planned
    planned_at: float = field(default_factory=time.time)  # a newer record: another runner's
    devices: list[str] | None = None  # what the job saw (its record's "devices")


@dataclass
class SweepResult:
    """What :func:`execute` hands back to the workflow."""

    working_dir: Path
    output_subdir: str | None
    task_overrides: list[str]
    jobs: list[JobOutcome] = field(default_factory=list)
    launcher: str = FAST



def _check_return(value: Any, where: str) -> Any:
    if value is None or isinstance(value, dict):
        return to_numpy(value)
    raise MushinTypeError(
        f"{where} returned {describe(value)}; a task must return a dict of "
        "metrics (name -> number or array) or None. Fix: return e.g. {'acc': acc}")


def run_job_body(body: Callable[[Any], Any], cfg: Any, job_dir: Path, num: int,
                 overrides: Sequence[str], *, write_events: bool,
                 fresh: bool = False, set_env: bool = True) -> dict[str, Any]:
    """Run one job's body and write its record; never raises an ``Exception``.

    ``set_env=False`` leaves ``os.environ`` alone (jobs running in threads share it).
    Returns the final record (``status`` "done", "failed" or "skipped", ``return_value``).
    """
    label = " ".join(o.lstrip("+~") for o in overrides) or "(no overrides)"
    event_file = job_dir / RECORD_DIR / EVENT_FILE_NAME
    started = time.time()
    base = {"num": num, "overrides": list(overrides), "started": started,
            "devices": visible_devices()}
    if not fresh:  # a re-run job must not keep an old record if it dies before its own
        (job_dir / RECORD_DIR / RECORD_NAME).unlink(missing_ok=True)
    if write_events:
        write_event(event_file, "start")
    previous_env = os.environ.get(EVENT_FILE_ENV)
    if set_env:
        os.environ[EVENT_FILE_ENV] = str(event_file)
    try:
        value = _check_return(body(cfg), f"job {num} ({label})")
    except JobSkipped as exc:  # not a failure: the task chose not to run now
        finished = time.time()
        record = {**base, "status": "skipped", "finished": finished,
                  "duration_s": finished - started, "return_value": None,
                  "error_type": "JobSkipped", "error_message": str(exc) or "skipped"}
    except Exception as exc:  # one job's failure never stops the sweep
        finished = time.time()
        record = {**base, "status": "failed", "finished": finished,
                  "duration_s": finished - started, "return_value": None,
                  **error_record(job_dir, exc, f"job {num} ({label}) in {job_dir}")}
    else:
        finished = time.time()
        record = {**base, "status": "done", "finished": finished,
                  "duration_s": finished - started, "return_value": encode(value)}
    finally:
        if set_env and previous_env is None:
            os.environ.pop(EVENT_FILE_ENV, None)
        elif set_env:
            os.environ[EVENT_FILE_ENV] = previous_env
    write_record(job_dir, record)
    if write_events:
        error = (_error_line(record) if record["status"] == "failed" else
                 record.get("error_message"))  # a skipped job's reason; None when done
        write_event(event_file, "end", status=record["status"], error=error)
    if record["status"] == "done":
        record["return_value"] = value  # the live value (objects the record only reprs)
    return record


def _error_line(record: dict[str, Any]) -> str:
    return f"{record.get('error_type')}: {record.get('error_message')}"


def tell_end(sink: Any, job: JobOutcome) -> None:
    """Tell the progress sink how ``job`` ended, with a failure's error or a skip's reason."""
    text = job.error if job.status in ("failed", "skipped") else None
    if job.status == "skipped" and text:
        text = text.removeprefix("skipped: ")
    sink.job_end(job.index, job.status, text)
    show = getattr(sink, "job_devices", None)  # optional in the sink contract
    if show is not None and job.devices:
        show(job.index, list(job.devices))


def finish(job: JobOutcome, record: dict[str, Any] | None) -> None:
    """Copy how a job ended from its result record (none: its process died) onto ``job``."""
    job.ran = True
    if record is None or record.get("status") not in ("done", "failed", "skipped"):
        job.status = "failed"
        job.error = ("MushinRuntimeError: the job ended without a result record "
                     "(its process died or was killed)")
        return
    job.status = record["status"]
    job.devices = record.get("devices")
    job.return_value = record.get("return_value")
    job.duration_s = record.get("duration_s")
    if job.status == "skipped":
        job.error = f"skipped: {record.get('error_message') or 'no reason given'}"
    if job.status == "failed":
        job.error = _error_line(record)
        job.traceback_path = Path(record["traceback_path"]) if record.get(
            "traceback_path") else None

