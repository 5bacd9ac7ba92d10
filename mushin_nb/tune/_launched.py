"""tune()'s rounds through the sweep engine: a round's jobs run at once, on any launcher.

On a launcher with a set number of workers (joblib's ``n_jobs``), one sweep of those
workers, in ``<working_dir>/rounds/workers-<n>``, trains every round left
(:func:`run_workers`, :class:`mushin_nb.tune._session.TuneWorker`): the workers share
the jobs out through leases and rank each round from the records, so a sweep's fixed
cost is paid once, not once a round.  On any other launcher a round is one sweep over
the names of the jobs (candidate x seed) that still need training, in
``<working_dir>/rounds/<round>`` (:func:`run_round`).  Either way each job trains to the
round's budget from its last checkpoint and writes the same records and checkpoints as
in-process training, and a killed tuning resumes from the records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mushin_nb.errors import MushinRuntimeError, MushinTypeError, bad_value
from mushin_nb.workflows import check_gpus_per_job, check_launcher, multirun, sweep

__all__ = ["Launch", "check_launch", "groups", "run_round", "run_workers"]

@dataclass(frozen=True)
class Launch:
    """Where a tuning's rounds run: a launcher, its overrides, GPUs per job."""

    launcher: str
    overrides: tuple[str, ...] = ()
    gpus_per_job: float | None = None

    @property
    def slots(self) -> int | None:
        """Jobs the launcher runs at once, when it says (joblib's ``n_jobs``)."""
        for line in self.overrides:
            key, _, value = line.lstrip("+").partition("=")
            if key == "hydra.launcher.n_jobs" and value.strip().isdigit():
                return max(1, int(value))
        return None


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
    check_launcher(launcher)  # once, not at the first round
    return Launch(launcher, tuple(overrides or ()), gpus)


def groups(names: Sequence[str], slots: int | None,
           costs: Sequence[float] | None = None) -> list[str]:
    """The round's job names as sweep values: one each, or one list per worker.

    A launcher with a fixed number of workers gets one sweep job per worker: a sweep job
    costs its launcher a config composition, which would otherwise outweigh a few epochs
    of a small model.  Each of them lists every job of the round, the costliest first
    when ``costs`` (the expected seconds of each job) are known, each list starting one
    job further on; the workers claim the jobs as they reach them (see
    :class:`mushin_nb.tune._session.RoundTask`), so a worker that is done early takes
    the next job left, and no job waits behind a slow one while a worker idles.

    Examples
    --------
    >>> groups(["c0", "c1", "c2"], None), groups(["c0", "c1", "c2"], 2)
    (['c0', 'c1', 'c2'], ['c0.c1.c2', 'c1.c2.c0'])
    >>> groups(["c0", "c1", "c2", "c3"], 2, costs=[1.0, 3.0, 1.0, 2.0])
    ['c1.c3.c0.c2', 'c3.c0.c2.c1']
    """
    if slots is None or slots >= len(names):
        return list(names)
    order = list(names) if costs is None else [
        names[i] for i in sorted(range(len(names)), key=lambda i: -costs[i])]  # stable
    return [".".join(order[w:] + order[:w]) for w in range(slots)]


def run_round(launch: Launch, task: Callable[[str], Any], round_: int, names: Sequence[str],
              root: Path, progress: Any, costs: Sequence[float] | None = None) -> None:
    """Run ``task(jobs)`` over one round's job names as a sweep; raise when one broke down.

    ``jobs`` names one job, or several joined by ``"."`` that the workers share out (see
    :func:`groups`, which orders them by ``costs``).
    """
    wf = sweep(task, {"jobs": multirun(groups(names, launch.slots, costs))},
               working_dir=root / "rounds" / str(round_), launcher=launch.launcher,
               overrides=list(launch.overrides), gpus_per_job=launch.gpus_per_job,
               progress=progress, title=f"tune round {round_}")
    _raise_failures(wf, f"tune round {round_}")


def run_workers(launch: Launch, task: Callable[[int], Any], root: Path) -> None:
    """Run ``task(worker)`` for each of the launcher's ``slots`` workers as one sweep, which
    trains every round left (see :class:`mushin_nb.tune._session.TuneWorker`); raise when
    one broke down.

    The sweep is a fresh one in ``<working_dir>/rounds/workers-<n>``: a worker of a killed
    call that had finished must not keep its place in the next call's sweep.  It shows no
    display of its own: the tuning's list shows each job, its epochs streamed from the
    worker that trains it.
    """
    assert launch.slots is not None
    base = root / "rounds"
    n = sum(1 for p in base.glob("workers-*")) if base.is_dir() else 0
    wf = sweep(task, {"worker": multirun(list(range(launch.slots)))},
               working_dir=base / f"workers-{n}", launcher=launch.launcher,
               overrides=list(launch.overrides), gpus_per_job=launch.gpus_per_job,
               progress=False, title="tune rounds")
    _raise_failures(wf, "tune")


def _raise_failures(wf: Any, what: str) -> None:
    if wf.failures:  # in-process, these raise out of tune(); a trained candidate's error
        first = wf.failures[0]  # is in its record, not here
        raise MushinRuntimeError(
            f"{what}: {len(wf.failures)} job(s) stopped with an error; first: "
            f"{first}. Fix: read {first.traceback_path or first.job_dir}, correct the "
            "trainer, and call tune() again with the same working_dir to resume")
