"""tune()'s rounds through the sweep engine: a round's jobs run at once, on any launcher.

A round is one sweep over the names of the jobs (candidate x seed) that still need
training, in ``<working_dir>/rounds/<round>``.  Each sweep job rebuilds the tuning's
session in its own process (the trainer is cloned with cloudpickle and loads its
dataset once per process), trains its job to the round's budget from its last
checkpoint, and writes the same records and checkpoints as in-process training; the
caller then reads them back and ranks.  A killed tuning resumes round by round: the
round's sweep re-runs only what has no record, and training continues from checkpoints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mushin_nb.errors import MushinRuntimeError, MushinTypeError, bad_value
from mushin_nb.workflows import multirun, sweep
from mushin_nb.workflows._placement import check_gpus_per_job

__all__ = ["Launch", "RoundTask", "check_launch", "run_round", "worker_session"]

_PREPARED: dict[str, Any] = {}  # blob digest -> trainer with its dataset loaded (per process)


@dataclass(frozen=True)
class Launch:
    """Where a tuning's rounds run: a launcher, its overrides, GPUs per job."""

    launcher: str
    overrides: tuple[str, ...] = ()
    gpus_per_job: float | None = None


def check_launch(launcher: Any, overrides: Any, gpus_per_job: Any) -> Launch | None:
    """Validate tune()'s launcher arguments; None means train in this process.

    Examples
    --------
    >>> check_launch(None, None, None) is None
    True
    >>> check_launch("joblib", ["hydra.launcher.n_jobs=2"], None).overrides
    ('hydra.launcher.n_jobs=2',)
    """
    if overrides is not None and (isinstance(overrides, str) or not all(
            isinstance(o, str) for o in overrides)):
        raise bad_value("overrides", overrides, "a list of Hydra override strings",
                        'pass e.g. overrides=["hydra.launcher.n_jobs=2"]', MushinTypeError)
    if launcher is not None and not isinstance(launcher, str):
        raise bad_value("launcher", launcher, "None or a Hydra launcher name",
                        "pass e.g. launcher='joblib' or launcher='ray'", MushinTypeError)
    gpus = check_gpus_per_job(gpus_per_job, launcher)
    if launcher is None:
        if overrides:
            raise bad_value("overrides", overrides, "empty when launcher is None",
                            "name the launcher the overrides are for, e.g. launcher='joblib'")
        return None
    return Launch(launcher, tuple(overrides or ()), gpus)


class RoundTask:
    """The sweep task of one round: train the job named ``job`` up to the round's budget."""

    def __init__(self, blob: bytes, settings: dict[str, Any], round_: int) -> None:
        self.blob, self.settings, self.round = blob, settings, round_

    def __call__(self, job: str) -> dict[str, Any]:
        key = hashlib.sha1(self.blob).hexdigest()
        session = worker_session(self.blob, self.settings, _PREPARED.get(key))
        session.round = self.round
        target = session.by_name(job)
        if session.schedule is None:
            session.fit(target)
        else:
            session.train_round(target)
        if session.trainer is not None:
            _PREPARED[key] = session.trainer
        return {"epochs": target.epochs, "failed": int(target.failed)}


def run_round(launch: Launch, blob: bytes, settings: dict[str, Any], round_: int,
              names: Sequence[str], root: Path, progress: Any) -> None:
    """Run one round's jobs as a sweep; raise when a job's code broke the trainer contract."""
    wf = sweep(RoundTask(blob, settings, round_), {"job": multirun(list(names))},
               working_dir=root / "rounds" / str(round_), launcher=launch.launcher,
               overrides=list(launch.overrides), gpus_per_job=launch.gpus_per_job,
               progress=progress, title=f"tune round {round_}")
    if wf.failures:  # in-process, these raise out of tune(); a trained candidate's error
        first = wf.failures[0]  # is in its record, not here
        raise MushinRuntimeError(
            f"tune round {round_}: {len(wf.failures)} job(s) stopped with an error; first: "
            f"{first}. Fix: read {first.traceback_path or first.job_dir}, correct the "
            "trainer, and call tune() again with the same working_dir to resume")


class _NullSink:
    """The tuning's display lives in the caller; a sweep job reports to its own sweep."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def worker_session(blob: bytes, settings: dict[str, Any], prepared: Any) -> Any:
    """The tuning's session rebuilt in a sweep job (``prepared``: a cached trainer)."""
    import cloudpickle

    from mushin_nb.tune._runner import _Session
    from mushin_nb.tune._store import Store

    store = Store(Path(settings["root"]))
    session = _Session(lambda: cloudpickle.loads(blob), settings["dataset"],
                       settings["metric"], settings["schedule"], settings["reduction"],
                       settings["seeds"], settings["candidates"], store, store.load_state(),
                       settings["passthrough"])
    session.trainer = prepared
    session.sink = _NullSink()
    session.own_context = False
    return session
