"""Study: train every method on every seed through a Hydra sweep, then compare them."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mushin_nb.compare import compare
from mushin_nb.errors import (
    MushinTypeError,
    MushinValueError,
    NotRunError,
    SweepFailedError,
    bad_value,
)
from mushin_nb.stats import MushinWarning
from mushin_nb.study._checkpoints import (
    CHECKPOINTS,
    PathLike,
    load_checkpoint,
    state_dict_loader,
)
from mushin_nb.study._checks import (
    _check_checkpoints,
    _check_data,
    _check_evaluation,
    _check_methods,
    _check_num_classes,
    _check_seeds,
    _check_working_dir,
)
from mushin_nb.study._job import (
    SWEEP,
    TrainFnReturnError,
    _forget_lost_checkpoints,
    _returned_no_path,
    _TrainJob,
    _warn_stale,
    is_seed_trainer,
)
from mushin_nb.study._result import StudyResult, TrainingFailure


class Study:
    """Train every method on every seed through a Hydra sweep, then compare them.

    Parameters
    ----------
    methods : dict of str -> callable
        Method name -> ``train_fn(seed) -> checkpoint path``. A ``train_fn`` runs with its
        job directory as the current directory, where ``checkpoints/`` leads to
        ``<working_dir>/checkpoints`` (also given by :func:`checkpoint_dir`); a relative
        path it returns is resolved against the current directory. A Study run from a
        thread other than the main one (a widget's background run) leaves the process's
        current directory alone: its ``train_fn`` should save to :func:`checkpoint_dir`.
        Names become path-safe sweep values (other characters turn into ``_``).
        A :class:`mushin_nb.train.SeedTrainer` method is trained by its first job: all its
        seeds without a checkpoint at once (``<method>_seed<seed>.pt``, loaded back into
        its ``build()``), each seed's epochs shown on that seed's job.
    load_fn : callable, optional
        ``load_fn(path) -> torch.nn.Module``; default :func:`load_checkpoint` (safe
        ``weights_only`` loading; see :func:`state_dict_loader` and :func:`load_module`).
    seeds : sequence of int
        The seeds, unique; every method is trained once per seed.
    data : re-iterable of (inputs, targets) batches
        The evaluation data (a DataLoader); it is iterated once per model.
    num_classes : int
        Number of classes of the task.
    task, test, alpha, ignore_index, metrics, predict_fn, reference, margin
        Passed to :func:`mushin_nb.compare.compare` (``margin``: the equivalence margin,
        see :meth:`mushin_nb.compare.BenchmarkResult.from_dataset`).
    working_dir : str or os.PathLike
        Where the sweep (``sweep/``) and the checkpoints (``checkpoints/``) live; running
        a Study again in the same directory resumes it (pairs are matched by method name
        and seed). Each checkpoint records a hash of its train_fn's source code; when a
        reused checkpoint was trained by different code, a ``MushinWarning`` names the
        method and seeds (values the code reads from outside it are not hashed). After
        changing a train_fn, use a new directory.
    launcher : str, optional
        A Hydra launcher for the trainings (``"joblib"``, ``"submitit_local"``...); the
        train_fns must then be picklable. Default: in-process.
    progress : bool or sink
        Live progress of the trainings (see :func:`mushin_nb.progress.sweep_progress`).
    gpus_per_job : int or float, optional
        GPUs per training, placed by the launcher (``launcher="ray"``: one training per
        GPU at once; in-process: one after another on the visible device).  See
        :func:`mushin_nb.workflows.sweep`.

    Attributes
    ----------
    working_dir : pathlib.Path
        The resolved working directory.
    checkpoints : dict of str -> list of str
        After :meth:`run`: method -> absolute checkpoint paths, in seed order (a seed
        whose training failed is left out).
    failures : list of TrainingFailure
        After :meth:`run`: the (method, seed) pairs whose training failed.
    stale : dict of str -> list of int
        After :meth:`run`: method -> seeds whose reused checkpoint was trained by a
        train_fn whose code has changed since (the ``MushinWarning`` names them too).
    result : StudyResult
        After :meth:`run`: what it returned.
    workflow : MultiRunMetricsWorkflow
        After :meth:`run`: the training sweep (``.failures``, ``.to_xarray()``...).

    Examples
    --------
    >>> import tempfile, torch
    >>> from mushin_nb.study import Study, checkpoint_dir, state_dict_loader
    >>> x = torch.linspace(-1, 1, 40).reshape(-1, 1)
    >>> data = [(x, (x[:, 0] > 0).long())]
    >>> def train_fn(sign):  # a threshold classifier; the seed moves the threshold
    ...     def train(seed):
    ...         model = torch.nn.Linear(1, 2)
    ...         with torch.no_grad():
    ...             model.weight.copy_(torch.tensor([[-sign], [sign]]))
    ...             model.bias.copy_(torch.tensor([0.0, sign * 0.1 * (1 - seed)]))
    ...         path = checkpoint_dir() / f"sign{sign}_{seed}.pt"
    ...         torch.save(model.state_dict(), path)
    ...         return path
    ...     return train
    >>> study = Study({"right": train_fn(1.0), "wrong": train_fn(-1.0)},
    ...               state_dict_loader(lambda: torch.nn.Linear(1, 2)), seeds=[0, 1, 2],
    ...               data=data, num_classes=2, metrics=["accuracy"],
    ...               working_dir=tempfile.mkdtemp(), progress=False)
    >>> result = study.run()  # doctest: +ELLIPSIS
    mushin_nb: 6 jobs in .../sweep: 6 done
    >>> result.data["accuracy"].values.round(3).tolist()
    [[0.975, 1.0, 0.975], [0.025, 0.0, 0.025]]
    >>> result.summary()["significant_vs_ref"].tolist()  # "*": differs from "right"
    ['', '*']
    >>> sorted(study.checkpoints), len(study.checkpoints["right"])
    (['right', 'wrong'], 3)
    """

    def __init__(
        self,
        methods: Mapping[str, Callable[[int], PathLike]],
        load_fn: Callable[[PathLike], Any] | None = None,
        seeds: Sequence[int] = (0, 1, 2),
        data: Iterable[Any] | None = None,
        num_classes: int | None = None,
        task: str = "classification",
        test: str = "welch",
        alpha: float = 0.05,
        ignore_index: int | None = None,
        working_dir: PathLike = ".",
        launcher: str | None = None,
        metrics: Sequence[str | Callable[..., Any]] | Mapping[str, Callable[..., Any]]
        | None = None,
        predict_fn: Callable[[Any], Any] | None = None,
        reference: str | None = None,
        progress: bool | Any = True,
        margin: float | None = None,
        gpus_per_job: float | None = None,
    ) -> None:
        from mushin_nb.workflows import check_gpus_per_job

        self.gpus_per_job = check_gpus_per_job(gpus_per_job, launcher)
        self._slugs = _check_methods(methods)
        self.methods = dict(methods)
        self.seeds = _check_seeds(seeds)
        if load_fn is not None and not callable(load_fn):
            raise bad_value("load_fn", load_fn, "a callable load_fn(path) -> model",
                            "e.g. load_fn=mushin_nb.study.state_dict_loader(MyNet)",
                            MushinTypeError)
        self.load_fn = load_checkpoint if load_fn is None else load_fn
        _check_data(data)
        self.data = data
        self.num_classes = _check_num_classes(num_classes)
        if reference is not None and reference not in self.methods:
            raise bad_value("reference", reference, f"one of the methods {list(self.methods)}",
                            "name a method of `methods`, or leave reference=None (the first)",
                            MushinValueError)
        _check_evaluation(self.num_classes, task, test, alpha, ignore_index, metrics,
                          predict_fn)
        from mushin_nb.stats.equivalence import check_margin

        self._compare_kwargs = dict(task=task, test=test, alpha=float(alpha),
                                    ignore_index=ignore_index, metrics=metrics,
                                    predict_fn=predict_fn, reference=reference,
                                    margin=check_margin(margin))
        self.working_dir = _check_working_dir(working_dir)
        self.launcher = launcher
        self.progress = progress
        self._paths: dict[str, dict[int, str]] | None = None
        self._ran = False
        self._expected = {name: list(self.seeds) for name in self.methods}
        self._failures: list[TrainingFailure] = []
        self._skipped: list[TrainingFailure] = []  # trainings that raised JobSkipped
        self._stale: dict[str, list[int]] = {}
        self._result: Any = None
        self.workflow: Any = None

    # ------------------------------------------------------------------ alternative start

    @classmethod
    def from_checkpoints(
        cls,
        checkpoints: Mapping[str, Sequence[PathLike] | Mapping[int, PathLike]],
        load_fn: Callable[[PathLike], Any] | None = None,
        data: Iterable[Any] | None = None,
        num_classes: int | None = None,
        **kwargs: Any,
    ) -> Study:
        """A Study of checkpoints that already exist: :meth:`run` only evaluates them.

        Parameters
        ----------
        checkpoints : dict
            Method -> list of checkpoint paths (seeds ``0..n-1``) or dict seed -> path.
        load_fn, data, num_classes, **kwargs
            As for :class:`Study` (``task``, ``test``, ``alpha``, ``metrics``...).

        Examples
        --------
        >>> import tempfile, torch
        >>> from mushin_nb.study import state_dict_loader
        >>> folder = Path(tempfile.mkdtemp())
        >>> def save(name, weight):  # a 1-d threshold classifier, saved as a state dict
        ...     state = {"weight": torch.tensor([[-weight], [weight]]), "bias": torch.zeros(2)}
        ...     torch.save(state, folder / name)
        ...     return folder / name
        >>> checkpoints = {"a": [save("a0.pt", 1.0), save("a1.pt", 2.0)],
        ...                "b": {7: save("b7.pt", -1.0), 8: save("b8.pt", 0.5)}}
        >>> x = torch.linspace(-1, 1, 20).reshape(-1, 1)
        >>> study = Study.from_checkpoints(
        ...     checkpoints, state_dict_loader(lambda: torch.nn.Linear(1, 2)),
        ...     data=[(x, (x[:, 0] > 0).long())], num_classes=2, metrics=["accuracy"],
        ...     working_dir=folder, progress=False)
        >>> study.run().data["accuracy"].values.tolist()
        [[1.0, 1.0, nan, nan], [nan, nan, 0.0, 1.0]]
        """
        table, seeds = _check_checkpoints(checkpoints)
        study = cls(dict.fromkeys(checkpoints, _no_training), load_fn, seeds, data,
                    num_classes, **kwargs)
        study._paths = table
        study._expected = {m: sorted(by_seed) for m, by_seed in table.items()}
        return study

    # ------------------------------------------------------------------------ results

    def _require_run(self, name: str) -> None:
        if not self._ran:
            raise NotRunError(f"`study.{name}` is set by study.run(). Fix: call study.run() "
                              "first.")

    @property
    def checkpoint_dir(self) -> Path:
        """``<working_dir>/checkpoints``: where train_fns are offered to save."""
        return self.working_dir / CHECKPOINTS

    @property
    def checkpoints(self) -> dict[str, list[str]]:
        """Method -> absolute checkpoint paths in seed order (after :meth:`run`)."""
        self._require_run("checkpoints")
        assert self._paths is not None
        return {m: [by_seed[s] for s in sorted(by_seed)] for m, by_seed in self._paths.items()}

    @property
    def stale(self) -> dict[str, list[int]]:
        """Method -> seeds whose reused checkpoint came from older train_fn code."""
        self._require_run("stale")
        return {method: list(seeds) for method, seeds in self._stale.items()}

    @property
    def failures(self) -> list[TrainingFailure]:
        """The (method, seed) pairs whose training failed in the last :meth:`run`."""
        self._require_run("failures")
        return list(self._failures)

    @property
    def missing(self) -> list[tuple[str, int]]:
        """The (method, seed) pairs without a checkpoint after the last :meth:`run`."""
        self._require_run("missing")
        assert self._paths is not None
        return [(m, s) for m, seeds in self._expected.items() for s in seeds
                if s not in self._paths.get(m, {})]

    @property
    def result(self) -> StudyResult:
        """The StudyResult of the last :meth:`run`."""
        self._require_run("result")
        if self._result is None:
            raise NotRunError("`study.result` is missing: the last study.run() stopped before "
                              "the comparison. Fix: read study.failures, then run again.")
        return self._result

    def __repr__(self) -> str:
        head = (f"Study(methods={list(self.methods)}, seeds={self.seeds}, "
                f"working_dir={str(self.working_dir)!r}")
        if not self._ran:
            return head + ", not run)"
        missing = self.missing
        total = sum(len(seeds) for seeds in self._expected.values())
        text = f"{head}, checkpoints {total - len(missing)}/{total}"
        if missing:
            text += ", missing " + ", ".join(f"({m}, seed {s})" for m, s in missing)
        return text + ")"

    # ---------------------------------------------------------------------------- run

    def run(self) -> StudyResult:
        """Train what is missing, then evaluate every checkpoint and compare the methods.

        Returns
        -------
        StudyResult
            A BenchmarkResult: ``.data`` (method, seed), ``.comparisons``, ``.summary()``,
            ``.plot()``; ``.missing`` and ``data.attrs["missing"]`` name the (method, seed)
            pairs whose training failed, left out of the comparison.

        Raises
        ------
        TrainFnReturnError
            A ``MushinValueError`` (and a ``SweepFailedError``): a train_fn returned None or
            something that is not a path, for the (method, seed) pairs it names; raised when
            the training sweep has finished.
        SweepFailedError
            No checkpoint at all, or too few to compare; every failure is named.
        """
        if self._evaluate_only:
            paths = self._paths or {}
        else:
            paths = self._train()
        self._paths, self._ran, self._result = paths, True, None
        self._raise_on_bad_returns()
        self._result = self._compare(paths)
        return self._result

    @property
    def _evaluate_only(self) -> bool:
        return all(fn is _no_training for fn in self.methods.values())

    def _train(self) -> dict[str, dict[int, str]]:
        from mushin_nb.workflows import multirun, sweep

        sweep_dir = self.working_dir / SWEEP
        _forget_lost_checkpoints(sweep_dir)
        names = {slug: name for name, slug in self._slugs.items()}
        job = _TrainJob({slug: self.methods[name] for slug, name in names.items()}, names,
                        self.checkpoint_dir, self.seeds)
        params = {"method": multirun(list(names)), "seed": multirun(self.seeds)}
        self.workflow = wf = sweep(
            job, params, working_dir=sweep_dir, launcher=self.launcher, resume=True,
            gpus_per_job=getattr(self, "gpus_per_job", None), progress=self.progress,
            title=f"Study: {' vs '.join(self.methods)}")
        paths: dict[str, dict[int, str]] = {name: {} for name in self.methods}
        for cfg, path in zip(wf.cfgs, wf.metrics.get("checkpoint", [None] * len(wf.cfgs))):
            if isinstance(path, str) and cfg is not None:
                paths[names[str(cfg["method"])]][int(cfg["seed"])] = path
        self._stale = _warn_stale(wf, job.codes, names, self.working_dir)

        def training(f: Any) -> TrainingFailure:
            return TrainingFailure(names.get(str(f.overrides.get("method")), str(f.overrides)),
                                   int(f.overrides.get("seed", -1)), f.error,
                                   None if f.traceback_path is None else str(f.traceback_path))

        self._failures = [training(f) for f in wf.failures]
        self._skipped = [training(f) for f in wf.skipped]
        return paths

    def _raise_on_bad_returns(self) -> None:
        """A train_fn that returned no path is a bug to fix, not a training to retry."""
        bad = [f for f in self._failures if _returned_no_path(f.error)]
        if bad:
            listed = "; ".join(f"({f.method}, seed {f.seed}): {f.error}" for f in bad)
            raise TrainFnReturnError(
                f"Study: {len(bad)} training(s) returned no checkpoint path: {listed}. Every "
                "train_fn(seed) must save its model and return the checkpoint's path; the "
                "trainings that were running finished first, and nothing was compared.")

    def _compare(self, paths: dict[str, dict[int, str]]) -> StudyResult:
        # a test needs two seeds of a method: one checkpoint alone cannot be compared
        models = {name: dict(sorted(by_seed.items())) for name, by_seed in paths.items()
                  if len(by_seed) >= 2}
        missing = self.missing
        lost = "; ".join(f"({m}, seed {s}): {self._why(m, s)}" for m, s in missing)
        left_out = [name for name in self.methods if name not in models]
        if not models:
            raise SweepFailedError(
                "No method has the 2 checkpoints a comparison needs. Missing: "
                f"{lost or 'none'}. Fix: read study.failures and the traceback files, then run "
                "the study again (only the missing pairs train).")
        kwargs = dict(self._compare_kwargs)
        if kwargs["reference"] not in models:
            kwargs["reference"] = next(iter(models))
        if missing:
            dropped = f"; left out entirely: {left_out}" if left_out else ""
            warnings.warn(f"Study: {len(missing)} (method, seed) pairs have no checkpoint: "
                          f"{lost}{dropped}. The comparison uses the seeds present (reference "
                          f"{kwargs['reference']!r}).", MushinWarning, stacklevel=3)
        result = compare(models, self.data, num_classes=self.num_classes,
                         load_fn=self._load_fn(models), progress=self.progress, **kwargs)
        result.data.attrs["missing"] = ", ".join(f"{m}/seed={s}" for m, s in missing)
        return StudyResult(result.data, result.comparisons, result.summary(),
                           missing=[(m, s, self._why(m, s)) for m, s in missing])

    def _load_fn(self, models: dict[str, dict[int, str]]) -> Callable[[PathLike], Any]:
        """The user's load_fn, except for SeedTrainer checkpoints: their build + state dict."""
        own = {path: state_dict_loader(self.methods[name].build)
               for name, by_seed in models.items() if is_seed_trainer(self.methods[name])
               for path in by_seed.values()}
        return _ByPath(own, self.load_fn) if own else self.load_fn

    def _why(self, method: str, seed: int) -> str:
        for failure in [*self._failures, *self._skipped]:
            if failure.method == method and failure.seed == seed:
                return failure.error
        return "not trained"


class _ByPath:
    """A load_fn that loads some paths with loaders of their own (picklable)."""

    def __init__(self, loaders: dict[str, Callable[[PathLike], Any]],
                 default: Callable[[PathLike], Any]) -> None:
        self.loaders, self.default = loaders, default

    def __call__(self, path: PathLike) -> Any:
        return self.loaders.get(str(path), self.default)(path)


def _no_training(seed: int) -> None:
    """The train_fn of the methods of :meth:`Study.from_checkpoints`: never called."""
    raise MushinValueError("This Study evaluates existing checkpoints only.")
