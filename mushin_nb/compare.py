"""compare(): score every model of every method, then test the methods against each other.

The result is a :class:`BenchmarkResult` (DESIGN section 2): ``.data``, an
``xarray.Dataset`` with dimensions ``(method, seed)`` and one variable per metric;
``.comparisons``, one row per (metric, method pair) with the test, Holm-corrected p-value,
interval of the difference and effect sizes; ``.summary()``, each method's mean and interval
with ``"*"`` where it differs from the reference.  :meth:`BenchmarkResult.from_dataset` and
:func:`compare_dataset` run the same statistics on scores that already exist (a Study, a
sweep, a notebook batch).

Examples
--------
>>> import xarray as xr
>>> ds = xr.Dataset({"accuracy": (("method", "seed"), [[0.90, 0.91, 0.92, 0.90, 0.91],
...                                                   [0.80, 0.82, 0.81, 0.80, 0.83]])},
...                 coords={"method": ["big", "small"], "seed": range(5)})
>>> result = BenchmarkResult.from_dataset(ds)
>>> result.summary()[["method", "metric", "significant_vs_ref"]]
  method    metric significant_vs_ref
0    big  accuracy
1  small  accuracy                  *
>>> import os, tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     again = BenchmarkResult.load(result.to_netcdf(os.path.join(tmp, "result.nc")))
>>> again.comparisons.equals(result.comparisons)
True
"""

from __future__ import annotations

import html
import numbers
import os
import sys
import types
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mushin_nb import stats
from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinKeyError,
    MushinTypeError,
    MushinValueError,
    bad_value,
)
from mushin_nb.results import enable_method_sel
from mushin_nb.stats import MushinWarning

__all__ = ["BenchmarkResult", "compare", "compare_dataset"]

#: ``BenchmarkResult.plot(kind=...)`` -> function of :mod:`mushin_nb.plots`
PLOTS = {"summary": "plot_summary", "pvalues": "plot_pvalues", "seeds": "plot_seeds"}
_GROUPS = {"comparisons": stats.COMPARISON_COLUMNS, "summary": stats.SUMMARY_COLUMNS}


class BenchmarkResult:
    """Scores of every (method, seed) and the statistics that compare the methods.

    Build one with :func:`compare`, :meth:`from_dataset`, :func:`compare_dataset` or
    :meth:`load`; the constructor itself takes already computed tables.

    Attributes
    ----------
    data : xarray.Dataset
        Dimensions ``(method, seed)``, one variable per metric; ``attrs`` hold the settings
        (``test``, ``alpha``, ``pairs``, ``reference``, ``bootstrap``, ``seed`` and, when
        known, ``task``).
    comparisons : pandas.DataFrame
        Columns :data:`mushin_nb.stats.COMPARISON_COLUMNS`, one row per metric and pair.
    """

    def __init__(self, data: Any, comparisons: Any, summary: Any) -> None:
        enable_method_sel()  # result.data.sel(method="cnn"), as documented
        self.data = data
        self.comparisons = comparisons
        self._summary = summary

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_dataset(cls, ds: Any, *, test: str = "welch", alpha: float = 0.05,
                     reference: str | None = None, pairs: str = "all", seed: int = 0,
                     bootstrap: str | None = None) -> BenchmarkResult:
        """Run the statistics on an existing ``(method, seed)`` Dataset.

        Parameters
        ----------
        ds : xarray.Dataset
            Dimensions ``method`` and ``seed``; every numeric variable over exactly those two
            is a metric (others are left out, with a warning).  NaN marks a missing or
            failed (method, seed) and is left out of that method's scores, with a warning.
        test : str
            One of :data:`mushin_nb.stats.TESTS`; paired tests pair scores by seed id.
        alpha : float
            Significance level after Holm correction over each metric's family; intervals
            have confidence ``1 - alpha``.
        reference : str, optional
            The method the summary marks the others against; default the first.
        pairs : {"all", "reference"}
            Compare all pairs, or each method with the reference only (a smaller family).
        seed : int
            Seed of the bootstrap and permutation test: the same seed, the same result.
        bootstrap : {None, "percentile", "bca"}
            Bootstrap intervals (10,000 resamples) instead of t-intervals.

        Returns
        -------
        BenchmarkResult
        """
        import xarray as xr

        stats.check_settings(test, alpha, pairs, bootstrap, seed)
        _check_int_seed(seed)
        if not isinstance(ds, xr.Dataset):
            raise bad_value("ds", ds, "an xarray.Dataset with dims ('method', 'seed')",
                            "build one, or use compare_dataset(ds, over=..., by=...) for a "
                            "sweep", cls=MushinTypeError)
        if not {"method", "seed"} <= set(ds.dims):
            raise bad_value("ds", tuple(ds.dims), "an xarray.Dataset with dims "
                            "('method', 'seed')", "for a sweep with other dimension names use "
                            "compare_dataset(ds, over='seed', by='<dim>')")
        metrics = _metric_vars(ds)
        methods = [str(m) for m in ds["method"].values]
        _check_unique("method", methods)
        _check_unique("seed", ds["seed"].values.tolist())
        reference = methods[0] if reference is None else reference
        if reference not in methods:
            raise MushinKeyError(f"unknown reference method {reference!r}. Known methods: "
                                 f"{', '.join(map(repr, methods))}. Fix: pass one of them.")
        data = ds[metrics].transpose("method", "seed").astype(np.float64)
        data = data.assign_coords(method=np.array(methods, dtype=object))
        scores = np.stack([data[m].values for m in metrics], axis=1)
        comparisons, summary = stats.compare_scores(
            scores, methods=methods, metrics=metrics, seeds=data["seed"].values.tolist(),
            test=test, alpha=alpha, pairs=pairs, reference=methods.index(reference),
            bootstrap=bootstrap, seed=seed)
        missing = int(np.isnan(scores).sum())
        if missing:
            warnings.warn(f"{missing} score(s) are NaN (runs that failed, or seeds that not every "
                          "method has) and are left out of their method's seeds.",
                          MushinWarning, stacklevel=2)
        data.attrs = {**ds.attrs, "test": test, "alpha": float(alpha), "pairs": pairs,
                      "reference": reference, "bootstrap": bootstrap or "none",
                      "seed": int(seed)}
        return cls(data, comparisons, summary)

    # ------------------------------------------------------------------ reading

    @property
    def methods(self) -> list[str]:
        """Method names, in order (the first is the default reference)."""
        return [str(m) for m in self.data["method"].values]

    @property
    def metrics(self) -> list[str]:
        """Metric names, in order."""
        return list(self.data.data_vars)

    @property
    def test(self) -> str:
        """The test used."""
        return str(self.data.attrs["test"])

    @property
    def alpha(self) -> float:
        """The significance level (after Holm)."""
        return float(self.data.attrs["alpha"])

    @property
    def reference(self) -> str:
        """The reference method of :meth:`summary`."""
        return str(self.data.attrs["reference"])

    def summary(self) -> Any:
        """Each method's mean per metric with its interval, ``"*"`` where it beats or trails
        the reference after Holm correction.

        Returns
        -------
        pandas.DataFrame
            Columns ``method, metric, mean, ci_low, ci_high, significant_vs_ref``.
        """
        return self._summary.copy()

    def plot(self, kind: str = "summary", **kwargs: Any) -> Any:
        """Draw the result with :mod:`mushin_nb.plots`.

        Parameters
        ----------
        kind : {"summary", "pvalues", "seeds"}
            CI forest plot, Holm p-value matrix, or per-seed strip plot.
        **kwargs
            Passed on (``metric=``, ``backend="hvplot" | "matplotlib"``, ``ax=``).
        """
        if kind not in PLOTS:
            raise bad_value("kind", kind, f"one of {', '.join(map(repr, PLOTS))}",
                            "e.g. result.plot('pvalues')")
        from mushin_nb import plots

        return getattr(plots, PLOTS[kind])(self, **kwargs)

    # ------------------------------------------------------------------ files

    def to_netcdf(self, path: str | os.PathLike) -> Path:
        """Write data, comparisons and summary to one NetCDF file, atomically.

        The file is written under a temporary name and renamed, so an existing file is
        replaced whole or not at all.  :meth:`load` reads it back identically.

        Returns
        -------
        pathlib.Path
        """
        path = Path(path)
        if not path.parent.is_dir():
            raise bad_value("path", str(path), "a file path in an existing directory",
                            f"create {str(path.parent)!r} first", cls=MushinFileNotFoundError)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            self.data.to_netcdf(tmp, mode="w", engine="h5netcdf")
            for group, table in (("comparisons", self.comparisons), ("summary", self._summary)):
                _table_to_dataset(table).to_netcdf(tmp, mode="a", group=group,
                                                   engine="h5netcdf")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> BenchmarkResult:
        """Read a file written by :meth:`to_netcdf` (see the module example)."""
        import xarray as xr

        path = Path(path)
        if not path.is_file():
            raise bad_value("path", str(path), "an existing file written by "
                            "BenchmarkResult.to_netcdf", cls=MushinFileNotFoundError)
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            data = ds.load()
        tables = {}
        for group, columns in _GROUPS.items():
            try:
                with xr.open_dataset(path, engine="h5netcdf", group=group) as ds:
                    tables[group] = stats._frame({c: ds[c].values for c in columns}, columns)
            except (OSError, KeyError, ValueError) as error:
                raise bad_value("path", str(path), "a file written by "
                                "BenchmarkResult.to_netcdf", f"its {group!r} group is "
                                f"unreadable ({error}); write it again with to_netcdf") from None
        for name in data.variables:  # the file's encoding is no part of the result
            data[name].encoding = {}
        return cls(data, tables["comparisons"], tables["summary"])

    # ------------------------------------------------------------------ display

    def _header(self) -> list[str]:
        n_seeds = self.data.sizes["seed"]
        family = "all pairs" if self.data.attrs.get("pairs", "all") == "all" \
            else "each method vs the reference"
        ci = self.data.attrs.get("bootstrap", "none")
        ci = "t-interval" if ci == "none" else f"{ci} bootstrap"
        level = round(100 * (1 - self.alpha), 6)
        return [
            f"BenchmarkResult: {len(self.methods)} methods x {n_seeds} seeds, "
            f"{len(self.metrics)} metrics",
            f"test={self.test}, Holm over {family}, alpha={self.alpha:g}; {level:g}% CI "
            f"({ci}); reference={self.reference!r}",
        ]

    def _rows(self) -> list[list[str]]:
        level = round(100 * (1 - self.alpha), 6)
        rows = [["method", "metric", "mean", f"{level:g}% CI", "vs ref"]]
        for r in self._summary.itertuples(index=False):
            rows.append([r.method, r.metric, f"{r.mean:.4g}",
                         f"[{r.ci_low:.4g}, {r.ci_high:.4g}]", r.significant_vs_ref])
        return rows

    def __repr__(self) -> str:
        rows = self._rows()
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                 for row in rows]
        return "\n".join(self._header() + lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = self._rows()
        head = "".join(f"<th>{esc(c)}</th>" for c in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                       for row in rows[1:])
        title, settings = (esc(line) for line in self._header())
        return (
            "<div class='mushin-benchmark'>"
            f"<pre class='mushin-text-repr-fallback' style='display:none'>{esc(repr(self))}"
            "</pre>"
            f"<p><strong>{title}</strong><br>{settings}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


# ----------------------------------------------------------------------------- compare()


def compare(models: Mapping[str, Any], data: Iterable[Any], *, num_classes: int,
            task: str = "classification", metrics: Any = None,
            predict_fn: Callable[[Any, Any], Any] | None = None,
            load_fn: Callable[[str], Any] | None = None, test: str = "welch",
            alpha: float = 0.05, reference: str | None = None, ignore_index: int | None = None,
            device: Any = None, pairs: str = "all", bootstrap: str | None = None,
            seed: int = 0, progress: Any = False) -> BenchmarkResult:
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
    test, alpha, reference, pairs, bootstrap, seed
        As for :meth:`BenchmarkResult.from_dataset`.
    progress : bool or sink
        Show one job per (method, seed) evaluation (see :mod:`mushin_nb.progress`).

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
    return BenchmarkResult.from_dataset(ds, test=test, alpha=alpha, reference=reference,
                                        pairs=pairs, seed=seed, bootstrap=bootstrap)


def compare_dataset(ds: Any, over: str = "seed", by: str | None = None, *,
                    test: str = "welch", alpha: float = 0.05, reference: str | None = None,
                    pairs: str = "all", seed: int = 0,
                    bootstrap: str | None = None) -> BenchmarkResult:
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
    test, alpha, reference, pairs, seed, bootstrap
        As for :meth:`BenchmarkResult.from_dataset`.

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
    return BenchmarkResult.from_dataset(ds, test=test, alpha=alpha, reference=reference,
                                        pairs=pairs, seed=seed, bootstrap=bootstrap)


# ----------------------------------------------------------------------------- helpers


def _is_path(item: Any) -> bool:
    return isinstance(item, (str, os.PathLike))


def _check_int_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise bad_value("seed", seed, "a non-negative int (it is stored with the result)",
                        "pass e.g. seed=0", cls=MushinTypeError)


def _check_unique(arg: str, values: Sequence[Any]) -> None:
    seen: set[Any] = set()
    twice = [v for v in values if v in seen or seen.add(v)]
    if twice:
        raise bad_value(arg, list(values), f"unique {arg} labels",
                        f"{twice[0]!r} appears more than once; drop or rename the duplicate")


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


def _metric_vars(ds: Any) -> list[str]:
    metrics, skipped = [], []
    for name, var in ds.data_vars.items():
        if set(var.dims) == {"method", "seed"} and np.issubdtype(var.dtype, np.number) \
                and not np.issubdtype(var.dtype, np.complexfloating):
            metrics.append(str(name))
        else:
            skipped.append(str(name))
    if skipped:
        warnings.warn(f"variables {skipped} are not numeric over exactly ('method', 'seed') and "
                      "are left out of the comparison.", MushinWarning, stacklevel=3)
    if not metrics:
        raise bad_value("ds", list(ds.data_vars), "at least one numeric variable over "
                        "('method', 'seed')", "store one score per method and seed")
    return metrics


def _table_to_dataset(table: Any) -> Any:
    """A flat table as a Dataset over one ``row`` dimension (strings as variable-length)."""
    import xarray as xr

    columns = {}
    for name in table.columns:
        values = table[name].to_numpy()
        if values.dtype.kind in "OUT":
            values = np.array([str(v) for v in values], dtype=object) if len(values) else \
                np.array([], dtype=str)
        columns[name] = ("row", values)
    return xr.Dataset(columns)


class _CallableModule(types.ModuleType):
    """This module, callable as :func:`compare`.

    ``mushin_nb.compare`` names the function, but importing this submodule (as Study and
    the magics do) rebinds the package attribute to the module; calling it still compares.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> BenchmarkResult:
        return compare(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
