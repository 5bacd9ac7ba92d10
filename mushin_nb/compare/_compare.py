"""compare() scores every model of every method, compare_dataset() takes any sweep's scores;
both hand them to :meth:`BenchmarkResult.from_dataset` for the statistics.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from mushin_nb import stats
from mushin_nb.compare._result import BenchmarkResult, _check_int_seed, _check_unique
from mushin_nb.errors import MushinKeyError, MushinTypeError, MushinValueError, bad_value
from mushin_nb.stats.bounded import check_bounds


def compare(models: Mapping[str, Any], data: Iterable[Any], *, num_classes: int,
            task: str = "classification", metrics: Any = None,
            predict_fn: Callable[[Any, Any], Any] | None = None,
            load_fn: Callable[[str], Any] | None = None, test: str = "welch",
            alpha: float = 0.05, reference: str | None = None, ignore_index: int | None = None,
            device: Any = None, pairs: str = "all", bootstrap: str | None = None,
            seed: int = 0, progress: Any = False, margin: float | None = None,
            bounds: Mapping[str, tuple[float, float]] | None = None) -> BenchmarkResult:
    """Evaluate every model of every method on ``data``, then compare the methods.

    Each model is scored by :func:`mushin_nb.metrics.evaluate` (one pass over ``data``, one
    forward per batch feeding the whole battery), then :meth:`BenchmarkResult.from_dataset`
    runs the tests, Holm correction, intervals and effect sizes.

    Parameters
    ----------
    models : dict
        ``method -> list of models`` (seed ids 0, 1, ...) or ``method -> {seed id: model}``.
        A model may be a checkpoint path (str or PathLike), loaded with ``load_fn``.
    data : iterable
        Re-iterable ``(inputs, targets)`` batches (a DataLoader, a list): it is read once
        per model, so a one-shot iterator is refused.
    num_classes, task, metrics, predict_fn, ignore_index, device
        As for :func:`mushin_nb.metrics.evaluate`.
    load_fn : callable, optional
        ``load_fn(path) -> model``; required when ``models`` holds paths.  Each model is
        loaded just before it is scored and released after.
    test, alpha, reference, pairs, bootstrap, seed, margin
        As for :meth:`BenchmarkResult.from_dataset`.
    progress : bool or sink
        Show one job per (method, seed) evaluation (see :mod:`mushin_nb.progress`).
    bounds : dict, optional
        Ranges of metrics passed as callables; the built-in metrics declare theirs
        (:data:`mushin_nb.metrics.RANGES`), so their intervals stay inside ``[0, 1]``.

    Returns
    -------
    BenchmarkResult
    """
    from mushin_nb.metrics import Battery, evaluate
    from mushin_nb.progress import sweep_progress

    stats.check_settings(test, alpha, pairs, bootstrap, seed)
    _check_int_seed(seed)
    plan = _plan(models, load_fn)
    methods = list(dict.fromkeys(method for method, _, _ in plan))
    if reference is not None and reference not in methods:
        raise MushinKeyError(f"unknown reference method {reference!r}. Known methods: "
                             f"{', '.join(map(repr, methods))}. Fix: pass one of them.")
    names = Battery(num_classes, task=task, metrics=metrics, ignore_index=ignore_index).names
    _check_data(data)
    sink = sweep_progress(progress)
    sink.start([f"{method} seed={sid}" for method, sid, _ in plan], title="compare")
    scores: dict[tuple[str, int], dict[str, float]] = {}
    ok = False
    try:
        for index, (method, sid, item) in enumerate(plan):
            sink.job_start(index)
            try:
                model = load_fn(item) if _is_path(item) else item
                values = evaluate(model, data, num_classes=num_classes, task=task,
                                  metrics=metrics, predict_fn=predict_fn,
                                  ignore_index=ignore_index, device=device)
                del model  # a loaded checkpoint is released before the next one loads
                _check_finite(values, method, sid)
            except BaseException as error:
                sink.job_end(index, "failed", f"{type(error).__name__}: {error}")
                raise
            sink.job_end(index, "done")
            scores[(method, sid)] = values
        ok = True
    finally:
        sink.close(ok)
    ds = _scores_dataset(scores, methods, names)
    ds.attrs["task"] = task
    from mushin_nb.metrics import LOWER_IS_BETTER, RANGES

    declared = {name: RANGES[name] for name in names if name in RANGES}
    return BenchmarkResult.from_dataset(ds, test=test, alpha=alpha, reference=reference,
                                        pairs=pairs, seed=seed, bootstrap=bootstrap,
                                        margin=margin, bounds={**declared, **(bounds or {})},
                                        lower_is_better=[n for n in names
                                                         if n in LOWER_IS_BETTER])


def compare_dataset(ds: Any, over: str = "seed", by: str | None = None, *,
                    test: str = "welch", alpha: float = 0.05, reference: str | None = None,
                    pairs: str = "all", seed: int = 0, bootstrap: str | None = None,
                    margin: float | None = None,
                    bounds: Mapping[str, tuple[float, float]] | None = None,
                    lower_is_better: Sequence[str] = ()) -> BenchmarkResult:
    """Compare the levels of one dimension of any sweep Dataset, with replicates along another.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep result (DESIGN section 2).
    over : str
        The dimension of independent repeats (seeds): the samples of each test.
    by : str, optional
        The dimension whose levels are compared (they become the methods, named by
        ``str(value)``); default the one dimension other than ``over``.  Other dimensions
        must have size 1 (select a level first with ``ds.sel(...)``).
    test, alpha, reference, pairs, seed, bootstrap, margin, bounds, lower_is_better
        As for :meth:`BenchmarkResult.from_dataset`; a sweep's variables declare no range,
        so pass ``bounds={"accuracy": (0, 1)}`` for intervals inside it.

    Returns
    -------
    BenchmarkResult
        ``data`` has dims ``(method, seed)``; ``attrs["compared"]`` and
        ``attrs["replicates"]`` name the original dimensions.

    Examples
    --------
    >>> import xarray as xr
    >>> sweep = xr.Dataset({"loss": (("lr", "seed"), [[0.5, 0.6, 0.55], [0.2, 0.25, 0.22]])},
    ...                    coords={"lr": [0.1, 0.01], "seed": [0, 1, 2]})
    >>> compare_dataset(sweep, over="seed").methods
    ['0.1', '0.01']
    """
    import xarray as xr

    if not isinstance(ds, xr.Dataset):
        raise bad_value("ds", ds, "an xarray.Dataset (a sweep result)", cls=MushinTypeError)
    dims = list(ds.dims)
    if over not in dims:
        raise MushinKeyError(f"`over` must be a dimension of ds, got {over!r}. Dimensions: "
                             f"{dims}. Fix: name the dimension of the seeds (repeats).")
    if by is None:
        others = [d for d in dims if d != over and ds.sizes[d] > 1]
        if len(others) != 1:
            raise bad_value("by", by, f"the dimension to compare, one of {others}"
                            if others else "a dimension to compare",
                            "pass by='<dim>' explicitly")
        by = others[0]
    if by not in dims or by == over:
        raise MushinKeyError(f"`by` must be a dimension of ds other than over={over!r}, got "
                             f"{by!r}. Dimensions: {dims}.")
    extra = [d for d in dims if d not in (by, over)]
    wide = [d for d in extra if ds.sizes[d] > 1]
    if wide:
        raise bad_value("ds", tuple(dims), f"only the dims {by!r} and {over!r} (others of "
                        f"size 1), but {wide} have several levels",
                        f"select one level first, e.g. ds.sel({wide[0]}=...)")
    ds = ds.isel({d: 0 for d in extra}, drop=True)
    labels = [str(v) for v in ds[by].values]
    ds = ds.drop_vars([v for v in ("method", "seed") if v in ds.variables and v not in (by, over)])
    ds = ds.rename({by: "method", over: "seed"}) if (by, over) != ("method", "seed") else ds
    ds = ds.assign_coords(method=labels)
    ds.attrs = {**ds.attrs, "compared": by, "replicates": over}
    stats.check_settings(test, alpha, pairs, bootstrap, seed)
    check_bounds(bounds, list(ds.data_vars))
    return BenchmarkResult.from_dataset(ds, test=test, alpha=alpha, reference=reference,
                                        pairs=pairs, seed=seed, bootstrap=bootstrap,
                                        margin=margin, bounds=bounds,
                                        lower_is_better=lower_is_better)


# ----------------------------------------------------------------------------- helpers


def _is_path(item: Any) -> bool:
    return isinstance(item, (str, os.PathLike))


def _plan(models: Any, load_fn: Any) -> list[tuple[str, int, Any]]:
    """``(method, seed id, model or path)`` for every evaluation, validated up front."""
    if not isinstance(models, Mapping) or not models:
        raise bad_value("models", models, "a non-empty dict method -> list of models (one per "
                        "seed) or dict seed id -> model", cls=MushinTypeError)
    if load_fn is not None and not callable(load_fn):
        raise bad_value("load_fn", load_fn, "a callable path -> model", cls=MushinTypeError)
    plan = []
    for method, runs in models.items():
        if not isinstance(method, str) or not method:
            raise bad_value("models", method, "method names that are non-empty str",
                            cls=MushinTypeError)
        if isinstance(runs, Mapping):
            items = list(runs.items())
        elif isinstance(runs, Sequence) and not isinstance(runs, (str, bytes)):
            items = list(enumerate(runs))
        else:
            raise bad_value(f"models[{method!r}]", runs, "a list of models (one per seed) or a "
                            "dict seed id -> model", f"wrap it: models={{{method!r}: [model, "
                            "...]}}", cls=MushinTypeError)
        seeds = []
        for sid, item in items:
            if isinstance(sid, bool) or not isinstance(sid, numbers.Integral):
                raise bad_value(f"models[{method!r}]", sid, "seed ids that are ints",
                                cls=MushinTypeError)
            if _is_path(item) and load_fn is None:
                raise bad_value("load_fn", None, f"a callable path -> model, since "
                                f"models[{method!r}] holds checkpoint paths such as "
                                f"{str(item)!r}", "pass load_fn=..., e.g. a function that "
                                "builds the model and loads its state dict")
            if not _is_path(item) and not callable(item):
                raise bad_value(f"models[{method!r}][{sid}]", item, "a model (callable) or a "
                                "checkpoint path", cls=MushinTypeError)
            seeds.append(int(sid))
            plan.append((method, int(sid), item))
        _check_unique(f"models[{method!r}] seed", seeds)
        if len(seeds) < 2:
            raise bad_value(f"models[{method!r}]", runs, "at least 2 models (seeds) per "
                            "method, since a test needs a spread over seeds",
                            "train the method with more seeds (5 or more for a useful test)")
    return plan


def _check_data(data: Any) -> None:
    try:
        one_shot = iter(data) is data
    except TypeError:
        raise bad_value("data", data, "an iterable of (inputs, targets) batches",
                        cls=MushinTypeError) from None
    if one_shot:
        raise bad_value("data", data, "re-iterable batches (a DataLoader or a list), since it "
                        "is read once per model", "pass list(data) or a DataLoader instead "
                        "of an iterator or generator", cls=MushinTypeError)


def _check_finite(values: dict[str, float], method: str, sid: int) -> None:
    bad = [name for name, v in values.items() if not np.isfinite(v)]
    if bad:
        raise MushinValueError(
            f"metric {bad[0]!r} of method {method!r}, seed {sid} is {values[bad[0]]} "
            "(undefined on this data, e.g. AUROC when the targets hold a single class). Fix: "
            "evaluate on data with every class, or leave the metric out with metrics=[...].")


def _scores_dataset(scores: dict[tuple[str, int], dict[str, float]], methods: list[str],
                    names: Sequence[str]) -> Any:
    import xarray as xr

    seeds = sorted({sid for _, sid in scores})
    grid = np.full((len(names), len(methods), len(seeds)), np.nan)
    for (method, sid), values in scores.items():
        for k, name in enumerate(names):
            grid[k, methods.index(method), seeds.index(sid)] = values[name]
    return xr.Dataset({name: (("method", "seed"), grid[k]) for k, name in enumerate(names)},
                      coords={"method": np.array(methods, dtype=object),
                              "seed": np.array(seeds, dtype=np.int64)})
