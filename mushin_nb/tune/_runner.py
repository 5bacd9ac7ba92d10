"""``tune()``: train every candidate a little, give the rest of the budget to the best.

All bookkeeping (records, checkpoints, selections, progress, errors) lives here; the
trainer only trains.  State is re-read from the working directory on every call, so a
killed tuning resumes from its last finished epoch and a finished one trains nothing.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import pickle
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from mushin_nb.errors import (
    MushinKeyError,
    MushinTypeError,
    MushinValueError,
    bad_value,
    describe,
)
from mushin_nb.progress import job_context, report, sweep_progress
from mushin_nb.tune._launched import Launch, check_launch, run_round
from mushin_nb.tune._params import Params, check_no_seed, expand_params, jsonable
from mushin_nb.tune._results import Candidate, Epoch, Run, TuneResults
from mushin_nb.tune._schedule import Rounds, advancing, check_reduction, parse_rounds, rank_key
from mushin_nb.tune._store import Store, open_working_dir, write_atomically
from mushin_nb.tune._trainer import Checkpoint, EpochTrainer, SimpleTrainer

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
        candidate and seed.  See :func:`mushin_nb.progress.sweep_progress`.
    n, seed : int, optional
        Number of random draws and their seed, when ``params`` holds distributions.
    launcher : str, optional
        ``None`` trains in this process, one job after another.  A sweep launcher
        (``"joblib"``, ``"ray"``, ``"submitit_slurm"``...) runs each round's jobs as one
        sweep in ``<working_dir>/rounds/<round>``, in parallel; records, checkpoints,
        resume and ranking are the same.  The trainer is cloned with cloudpickle.
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
    session = _Session(clone, dataset, metric, schedule, reduction, seed_list, candidates,
                       store, state, bool(passthrough_errors))
    if launch is not None:
        session.launched(launch, blob, progress)
    session.run(sweep_progress(False if launch is not None else progress))
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


@dataclass
class _Job:
    """One candidate on one seed: the unit of training, of records and of progress."""

    index: int
    candidate: int
    seed: int | None
    name: str
    params: Params
    record: dict[str, Any]
    ended: bool = False
    started: bool = False

    @property
    def failed(self) -> bool:
        return self.record["error"] is not None

    @property
    def epochs(self) -> int:
        return len(self.record["epochs"])

    @property
    def seconds(self) -> float:
        return math.fsum(e["seconds"] for e in self.record["epochs"])


def _label(index: int, params: Mapping[str, Any], seed: int | None) -> str:
    shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in params.items() if k != "create_model")
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"#{index} {shown}" + ("" if seed is None else f" seed={seed}")


class _Session:
    """One call of tune(): the jobs, the lazily prepared trainer clone, and the rounds."""

    def __init__(self, clone: Callable[[], Any], dataset: Any, metric: str, schedule: Rounds | None,
                 reduction: float, seeds: list[int] | None, candidates: list[dict[str, Any]],
                 store: Store, state: dict[str, Any], passthrough: bool) -> None:
        self.clone, self.dataset, self.metric = clone, dataset, metric
        self.schedule, self.reduction, self.store, self.state = schedule, reduction, store, state
        self.seeds, self.candidates, self.passthrough = seeds, candidates, passthrough
        self.trainer: Any = None
        self.sink: Any = None
        self.launch: Launch | None = None
        self.own_context = True  # False in a sweep job: report() goes to the sweep's job
        self.round = 0
        self.jobs: list[_Job] = []
        for c, cand in enumerate(candidates):
            for s in (seeds if seeds is not None else [None]):
                name = f"c{c:04d}" if s is None else f"c{c:04d}-seed{s}"
                record = store.load_record(name) or {
                    "candidate": c, "seed": s, "params": jsonable(cand), "epochs": [],
                    "error": None}
                job_params = Params(cand if s is None else {**cand, "seed": s})
                self.jobs.append(_Job(len(self.jobs), c, s, name, job_params, record))

    # -- bookkeeping -----------------------------------------------------------------------

    def launched(self, launch: Launch, blob: bytes, progress: Any) -> None:
        """Run the rounds through ``launch`` (a sweep per round) instead of in this process."""
        self.launch, self.blob, self.progress = launch, blob, progress
        self.settings = {"dataset": self.dataset, "metric": self.metric,
                         "schedule": self.schedule, "reduction": self.reduction,
                         "seeds": self.seeds, "candidates": self.candidates,
                         "root": str(self.store.root), "passthrough": self.passthrough}

    def by_name(self, name: str) -> _Job:
        return next(job for job in self.jobs if job.name == name)

    def context(self, job: _Job) -> Any:
        if not self.own_context:
            return contextlib.nullcontext()
        return job_context(job.index, self.store.job_dir(job.name), self.sink)

    def run_launched(self, jobs: list[_Job]) -> None:
        """Train ``jobs`` to this round's budget as one sweep, then read their records."""
        assert self.launch is not None
        for job in jobs:
            if not job.started:
                job.started = True
                self.sink.job_start(job.index)
        run_round(self.launch, self.blob, self.settings, self.round, [j.name for j in jobs],
                  self.store.root, self.progress)
        for job in jobs:
            job.record = self.store.load_record(job.name) or job.record
            if job.failed:
                self.end(job, "failed", job.record["error"]["message"])
                for sibling in self.jobs_of(job.candidate):
                    self.end(sibling, "done" if sibling.epochs else "skipped")

    def jobs_of(self, candidate: int) -> list[_Job]:
        per = len(self.seeds) if self.seeds is not None else 1
        return self.jobs[candidate * per:(candidate + 1) * per]

    def failed(self, candidate: int) -> bool:
        return any(job.failed for job in self.jobs_of(candidate))

    def end(self, job: _Job, status: str, error: str | None = None) -> None:
        if not job.ended:
            job.ended = True
            self.sink.job_end(job.index, status, error)

    def prepared(self) -> Any:
        """The trainer clone, with its dataset loaded on first use (never when all is done)."""
        if self.trainer is None:
            trainer = self.clone()
            trainer.load_dataset(self.dataset)
            self.trainer = trainer
        return self.trainer

    def attempt(self, job: _Job, fn: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
        """Run user code for ``job``; an exception fails the candidate unless passed through."""
        try:
            return True, fn(*args)
        except Exception as exc:
            if self.passthrough:
                raise
            self.fail(job, f"{type(exc).__name__}: {exc}", traceback.format_exc())
            return False, None

    def fail(self, job: _Job, message: str, trace: str | None = None) -> None:
        job.record["error"] = {"message": message, "traceback": trace}
        self.store.save_record(job.name, job.record)
        self.end(job, "failed", message)
        for sibling in self.jobs_of(job.candidate):  # one failed seed fails the candidate
            self.end(sibling, "done" if sibling.epochs else "skipped")

    def checked(self, values: Any, where: str) -> dict[str, float]:
        """The metric dict a trainer returned, as floats; contract violations raise at once."""
        if not isinstance(values, Mapping):
            raise bad_value(f"{where} return value", values, "a dict of metric values",
                            f"return e.g. {{{self.metric!r}: 0.9}}", cls=MushinTypeError)
        if self.metric not in values:
            raise MushinKeyError(
                f"`{where}` must return the tuned metric {self.metric!r} (trainer.metric), "
                f"got keys {sorted(map(str, values))}. Fix: add {self.metric!r} to the "
                f"returned dict, or set the trainer's metric to one of these keys.")
        out = {}
        for key, value in values.items():
            try:
                out[str(key)] = float(value)
            except (TypeError, ValueError, RuntimeError):
                raise bad_value(f"{where}[{key!r}]", value, "a number (float, int, 0-d array)",
                                "return scalar metric values", cls=MushinTypeError) from None
        return out

    def finite(self, job: _Job, values: dict[str, float], where: str) -> bool:
        """A non-finite tuned metric fails the candidate (or raises with passthrough_errors)."""
        value = values[self.metric]
        if math.isfinite(value):
            return True
        error = MushinValueError(
            f"`{where}` must return a finite {self.metric!r}, got {describe(value)}. Fix: "
            "the training diverged or the metric is undefined; this candidate ranks last.")
        if self.passthrough:
            raise error
        self.fail(job, f"MushinValueError: {error}")
        return False

    def add_epoch(self, job: _Job, values: dict[str, float], start: float, seconds: float
                  ) -> None:
        job.record["epochs"].append({"epoch": job.epochs, "metrics": values, "start": start,
                                     "seconds": seconds})
        self.store.save_record(job.name, job.record)
        report(step=job.epochs, total=self.schedule.total(self.round) if self.schedule else 1,
               **{k: v for k, v in values.items() if k not in {"step", "total"}})

    def save_checkpoint(self, job: _Job, save: Callable[[Checkpoint], None],
                        epoch: int | None) -> bool:
        path = self.store.checkpoint_path(job.name, epoch)
        path.parent.mkdir(parents=True, exist_ok=True)
        ok, _ = self.attempt(job, write_atomically, path, lambda tmp: save(Checkpoint(tmp)))
        return ok

    # -- running ---------------------------------------------------------------------------

    def run(self, sink: Any) -> None:
        self.sink = sink
        labels = [_label(j.candidate, j.params if j.seed is None else
                         {k: v for k, v in j.params.items() if k != "seed"}, j.seed)
                  for j in self.jobs]
        sink.start(labels, title=f"tune {len(self.candidates)} candidates")
        ok = False
        try:
            if self.schedule is None:
                self.run_simple()
            else:
                self.run_rounds()
            ok = not any(job.failed for job in self.jobs)
        finally:
            sink.close(ok=ok)

    def run_simple(self) -> None:
        self.round = 0
        if not self.state["selections"]:
            self.state["selections"] = [list(range(len(self.candidates)))]
            self.store.save_state(self.state)
        if self.launch is not None:
            todo = [job for job in self.jobs if not job.epochs and not job.failed]
            if todo:
                self.run_launched(todo)
        for job in self.jobs:
            if job.failed or self.failed(job.candidate):
                self.end(job, "failed" if job.failed else "skipped",
                         job.record["error"]["message"] if job.failed else None)
            elif job.epochs and (self.launch is None or not job.started):
                self.end(job, "skipped")
            else:
                if self.launch is None:
                    self.fit(job)
                self.end(job, "done")

    def fit(self, job: _Job) -> None:
        trainer = self.prepared()
        self.sink.job_start(job.index)
        with self.context(job):
            start, t0 = time.time(), time.perf_counter()
            ok, out = self.attempt(job, trainer.train, job.params)
            seconds = time.perf_counter() - t0
            if not ok:
                return
            if not (isinstance(out, tuple) and len(out) == 2):
                raise bad_value("train() return value", out, "a tuple (model, metric_values)",
                                "end train() with `return model, {'accuracy': acc}`",
                                cls=MushinTypeError)
            model, values = out[0], self.checked(out[1], "train()")
            if not self.finite(job, values, "train()"):
                return
            if self.save_checkpoint(job, lambda ckpt: trainer.save(ckpt, model), None):
                self.add_epoch(job, values, start, seconds)

    def run_rounds(self) -> None:
        assert self.schedule is not None
        selections: list[list[int]] = self.state["selections"]
        if not selections:
            selections.append(list(range(len(self.candidates))))
            self.store.save_state(self.state)
        last = len(self.schedule.budgets) - 1
        self.round = len(selections) - 1
        self.announce_finished(selections, last)
        while True:
            if self.launch is not None:
                todo = [job for c in selections[self.round] if not self.failed(c)
                        for job in self.jobs_of(c)
                        if not self.schedule.reached(self.round, job.epochs, job.seconds)]
                if todo:
                    self.run_launched(todo)
            for c in selections[self.round] if self.launch is None else ():
                for job in self.jobs_of(c):
                    if self.failed(c):
                        break
                    if not self.schedule.reached(self.round, job.epochs, job.seconds):
                        self.train_round(job)
            if self.round == last:
                break
            entrants = selections[self.round]
            ranked = sorted(entrants, key=lambda c: self.rank(c))
            keep = advancing(len(entrants), self.reduction)
            selections.append(sorted(ranked[:keep]))
            self.store.save_state(self.state)
            for c in ranked[keep:]:
                for job in self.jobs_of(c):
                    self.end(job, "done")
            self.round += 1
        for job in self.jobs:
            self.end(job, "done")

    def announce_finished(self, selections: list[list[int]], last: int) -> None:
        """On resume, close the jobs that earlier calls already finished."""
        current = set(selections[-1])
        complete = len(selections) - 1 == last
        for job in self.jobs:
            if job.failed:
                self.end(job, "failed", job.record["error"]["message"])
            elif self.failed(job.candidate) or job.candidate not in current or (
                    complete and self.schedule.reached(last, job.epochs, job.seconds)):
                self.end(job, "skipped")

    def rank(self, c: int) -> tuple[Any, ...]:
        cand = self.candidate(c)
        return rank_key(c, cand.metric_value, cand.failed)

    def train_round(self, job: _Job) -> None:
        """Train ``job`` up to this round's budget, continuing from its last checkpoint."""
        assert self.schedule is not None
        trainer = self.prepared()
        if not job.started:
            job.started = True
            self.sink.job_start(job.index)
        with self.context(job):
            if job.epochs == 0:
                ok, _ = self.attempt(job, trainer.create_model, job.params)
            else:
                ckpt = Checkpoint(self.store.checkpoint_path(job.name, job.epochs - 1))
                ok, _ = self.attempt(job, trainer.load, ckpt, job.params)
            while ok and not self.schedule.reached(self.round, job.epochs, job.seconds):
                epoch = job.epochs
                start, t0 = time.time(), time.perf_counter()
                ok, values = self.attempt(job, trainer.train_epoch, epoch)
                seconds = time.perf_counter() - t0
                if not ok:
                    break
                values = self.checked(values, "train_epoch()")
                ok = (self.finite(job, values, "train_epoch()")
                      and self.save_checkpoint(job, trainer.save, epoch))
                if ok:
                    self.add_epoch(job, values, start, seconds)

    # -- results ---------------------------------------------------------------------------

    def candidate(self, c: int) -> Candidate:
        selections = self.state["selections"]
        reached = max((r for r, entrants in enumerate(selections) if c in entrants), default=0)
        runs = []
        for job in self.jobs_of(c):
            epochs = tuple(Epoch(e["epoch"], MappingProxyType(e["metrics"]),
                                 timedelta(seconds=e["seconds"]),
                                 self.store.checkpoint_path(
                                     job.name, e["epoch"] if self.schedule else None))
                           for e in job.record["epochs"])
            error = job.record["error"] or {}
            runs.append(Run(job.seed, epochs, error.get("message"), error.get("traceback")))
        return Candidate(c, Params(self.candidates[c]), reached, tuple(runs), self.metric)

    def results(self, kind: str) -> TuneResults:
        return TuneResults([self.candidate(c) for c in range(len(self.candidates))],
                           metric=self.metric, working_dir=self.store.root, seeds=self.seeds,
                           kind=kind)
