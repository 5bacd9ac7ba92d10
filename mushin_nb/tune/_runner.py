"""``tune()``: train every candidate a little, give the rest of the budget to the best.

This module checks the arguments, opens the working directory and its state, and hands
the jobs to :class:`~mushin_nb.tune._session.Session`, which does the bookkeeping.  State
is re-read from the working directory on every call, so a killed tuning resumes from its
last finished epoch and a finished one trains nothing.
"""

from __future__ import annotations

import io
import json
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from mushin_nb.errors import (
    MushinTypeError,
    bad_value,
)
from mushin_nb.progress import sweep_progress
from mushin_nb.tune._launched import check_launch
from mushin_nb.tune._params import check_no_seed, expand_params, jsonable
from mushin_nb.tune._results import TuneResults
from mushin_nb.tune._schedule import Rounds, check_reduction, parse_rounds
from mushin_nb.tune._session import Session
from mushin_nb.tune._store import Store, open_working_dir
from mushin_nb.tune._trainer import EpochTrainer, SimpleTrainer

__all__ = ["tune"]

_FORMAT = 1


def tune(
    trainer: SimpleTrainer | EpochTrainer,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    dataset: Any = None,
    rounds: Sequence[int] | Sequence[timedelta] | None = None,
    seeds: Sequence[int] | None = None,
    working_dir: str | os.PathLike | None = None,
    reduction: float = 4,
    passthrough_errors: bool = False,
    progress: Any = True,
    n: int | None = None,
    seed: Any = None,
    launcher: str | None = None,
    overrides: Sequence[str] | None = None,
    gpus_per_job: float | None = None,
) -> TuneResults:
    """Tune ``trainer`` over ``params``: investment rounds for epochs, one fit otherwise.

    Parameters
    ----------
    trainer : SimpleTrainer or EpochTrainer
        Pickleable before ``load_dataset``; cloned once, ``load_dataset(dataset)`` once.
    params : mapping or list of mappings
        A grid (``{"lr": multirun([0.1, 0.01]), "width": 32}``: the product of the
        ``multirun`` values, fixed values shared), a list of dicts (one per candidate), or a
        random space of :mod:`mushin_nb.rand` distributions drawn ``n`` times with ``seed``.
        Each candidate reaches the trainer as a read-only :class:`Params`.
    dataset : Any
        Passed to ``trainer.load_dataset``.
    rounds : list of int or of timedelta
        EpochTrainer only, required: cumulative budget per round, in epochs
        (``[1, 3, 9]``) or training time (``[timedelta(minutes=1), ...]``).  Every
        candidate trains up to the first budget; after each round the best
        ``ceil(n / reduction)`` of its ``n`` participants advance and continue from their
        checkpoint up to the next budget.  A time budget is spent when a run's summed
        epoch times reach it (the last epoch may overshoot).
    seeds : list of int, optional
        Train every candidate on every seed (read it as ``params["seed"]`` or
        ``params.seed``) and rank candidates by the mean over seeds.
    working_dir : path, optional
        Where records and checkpoints go; default ``./tune/<date>-<time>-<suffix>``.
        Calling again with the same directory and arguments resumes (or, when finished,
        trains nothing and returns the same results).
    reduction : float
        Above 1; 4 (the default) keeps the best quarter each round.
    passthrough_errors : bool
        Raise a candidate's exception instead of recording it (the candidate then ranks
        last, and the tuning goes on).
    progress : bool or sink
        Live progress (the notebook's SweepMonitor, else a tqdm bar); one job per
        candidate and seed, with its epochs, wherever it trains.  On a launcher that runs
        one sweep a round (no set number of workers) each round's sweep shows its own
        instead.  See :func:`mushin_nb.progress.sweep_progress`.
    n, seed : int, optional
        Number of random draws and their seed, when ``params`` holds distributions.
    launcher : str, optional
        ``None`` trains in this process, one job after another.  A sweep launcher
        (``"joblib"``, ``"ray"``, ``"submitit_slurm"``...) trains the jobs in parallel;
        records, checkpoints, resume and ranking are the same.  With a set number of
        workers (joblib's ``hydra.launcher.n_jobs``) one sweep of those workers, in
        ``<working_dir>/rounds/workers-<n>``, trains every round, the workers sharing
        the jobs out (candidates sure to advance go on before a round ends); otherwise
        each round's jobs are one sweep, in ``<working_dir>/rounds/<round>``.  The trainer
        is cloned with cloudpickle.
    overrides : list of str, optional
        Hydra overrides for the launcher, e.g. ``["hydra.launcher.n_jobs=2"]``.
    gpus_per_job : int or float, optional
        GPUs per job, placed by the launcher (see :func:`mushin_nb.workflows.sweep`).

    Returns
    -------
    TuneResults
        Candidates best-first; ``.best``, ``.errors``, ``.to_df()``, ``.to_xarray()``.

    Examples
    --------
    >>> import tempfile
    >>> from mushin_nb.tune import EpochTrainer
    >>> class Climb(EpochTrainer):
    ...     metric = "score"
    ...     def create_model(self, params):
    ...         self.model = {"rate": params.rate, "steps": 0}
    ...     def train_epoch(self, epoch):
    ...         self.model["steps"] += 1
    ...         return {"score": self.model["rate"] * self.model["steps"]}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     results = tune(Climb(), [{"rate": r} for r in (1, 2, 3, 4, 5)], rounds=[1, 3],
    ...                    working_dir=tmp, progress=False)
    >>> [(c.params.rate, c.epochs) for c in results]
    [(5, 3), (4, 3), (3, 1), (2, 1), (1, 1)]
    """
    kind = _kind(trainer)
    metric = _metric(trainer)
    launch = check_launch(launcher, overrides, gpus_per_job)
    schedule = _check_rounds(kind, rounds)
    reduction = check_reduction(reduction)
    seed_list = _check_seeds(seeds)
    candidates = expand_params(params, n=n, seed=seed)
    if seed_list is not None:
        check_no_seed(candidates)
    clone = _pickled(trainer)
    blob = _cloudpickled(trainer) if launch is not None else b""
    spec = {"format": _FORMAT, "kind": kind, "metric": metric,
            "rounds": schedule.to_json() if schedule else None, "reduction": reduction,
            "seeds": seed_list, "candidates": [jsonable(c) for c in candidates]}
    store = Store(open_working_dir(working_dir))
    info = {"trainer": f"{type(trainer).__module__}.{type(trainer).__qualname__}"}
    state = _open_state(store, spec, info, working_dir)
    session = Session(clone, dataset, metric, schedule, reduction, seed_list, candidates,
                       store, state, bool(passthrough_errors))
    if launch is not None:
        session.launched(launch, blob, progress)
    # one sweep a round shows its own display; shared rounds show the tuning's list
    session.run(sweep_progress(False if launch is not None and launch.slots is None
                               else progress))
    return session.results(kind)


def _kind(trainer: Any) -> str:
    if isinstance(trainer, EpochTrainer):
        return "epoch"
    if isinstance(trainer, SimpleTrainer):
        return "simple"
    raise bad_value("trainer", trainer, "a SimpleTrainer or EpochTrainer instance",
                    "subclass mushin_nb.tune.SimpleTrainer or EpochTrainer",
                    cls=MushinTypeError)


def _metric(trainer: Any) -> str:
    metric = trainer.metric
    if not isinstance(metric, str) or not metric:
        raise bad_value("trainer.metric", metric, "the name (str) of the metric to maximise",
                        "e.g. metric = 'valid_accuracy' on the trainer class",
                        cls=MushinTypeError)
    return metric


def _check_rounds(kind: str, rounds: Any) -> Rounds | None:
    if kind == "simple":
        if rounds is not None:
            raise bad_value("rounds", rounds, "None for a SimpleTrainer (it trains in one go)",
                            "drop rounds=, or make the trainer an EpochTrainer")
        return None
    if rounds is None:
        raise bad_value("rounds", rounds, "given for an EpochTrainer",
                        "e.g. rounds=[1, 3, 9]: cumulative epochs per round")
    return parse_rounds(rounds)


def _check_seeds(seeds: Any) -> list[int] | None:
    if seeds is None:
        return None
    fix = "e.g. seeds=[0, 1, 2]"
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence | range):
        raise bad_value("seeds", seeds, "a list of distinct ints", fix, cls=MushinTypeError)
    if len(seeds) == 0 or len(set(seeds)) != len(seeds):
        raise bad_value("seeds", seeds, "a non-empty list of distinct ints", fix)
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int):
            raise bad_value("seeds", seeds, "a list of ints", fix, cls=MushinTypeError)
    return [int(s) for s in seeds]


class _Pickler(pickle.Pickler):
    """Pickles classes by identity: the clone lives in this process, so a trainer class
    defined in a notebook cell, a test or a function needs no importable name."""

    def __init__(self, file: io.BytesIO, classes: list[type]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.classes = classes

    def persistent_id(self, obj: Any) -> int | None:
        if isinstance(obj, type):
            self.classes.append(obj)
            return len(self.classes) - 1
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, classes: list[type]) -> None:
        super().__init__(file)
        self.classes = classes

    def persistent_load(self, pid: Any) -> type:
        return self.classes[pid]


def _pickled(trainer: Any) -> Callable[[], Any]:
    """Pickle ``trainer`` now (so bad state fails before any training); return a cloner."""
    classes: list[type] = []
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, classes).dump(trainer)
    except Exception as exc:  # pickle raises TypeError, PicklingError, AttributeError...
        raise bad_value(
            "trainer", trainer, "pickleable before load_dataset (it is cloned with pickle)",
            f"load data, open files and models in load_dataset or create_model, not in "
            f"__init__ (pickle said: {type(exc).__name__}: {exc})",
            cls=MushinTypeError) from exc
    blob = buffer.getvalue()
    return lambda: _Unpickler(io.BytesIO(blob), classes).load()


def _cloudpickled(trainer: Any) -> bytes:
    """The trainer for other processes: classes from notebooks and tests travel by value."""
    import cloudpickle

    try:
        return cloudpickle.dumps(trainer)
    except Exception as exc:
        raise bad_value("trainer", trainer, "pickleable with cloudpickle when a launcher is "
                        "given (it is sent to other processes)",
                        f"load data and models in load_dataset or create_model (cloudpickle "
                        f"said: {type(exc).__name__}: {exc})", cls=MushinTypeError) from exc


def _same(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _open_state(store: Store, spec: dict[str, Any], info: dict[str, Any], working_dir: Any
                ) -> dict[str, Any]:
    stored = store.load_state()
    if stored is None:
        state = {**spec, **info, "selections": []}
        store.save_state(state)
        return state
    for key, value in spec.items():
        if _same(value) != stored.get(key):
            shown = "the candidates" if key == "candidates" else f"{key}={stored.get(key)!r}"
            raise bad_value(
                "working_dir", str(working_dir),
                f"a new directory or one tuned with the same arguments (it holds a tuning "
                f"with other {key}: {shown})",
                "pass a new working_dir, or the same params, rounds, seeds, reduction and "
                "metric to resume")
    return stored
