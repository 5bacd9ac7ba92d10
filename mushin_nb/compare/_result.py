"""BenchmarkResult: the scores of every (method, seed) and the statistics that compare them.

It is built from a ``(method, seed)`` Dataset (:meth:`BenchmarkResult.from_dataset`), reads
back as tables and plots, and round-trips through one NetCDF file.
"""

from __future__ import annotations

import json
import numbers
import os
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mushin_nb import stats
from mushin_nb.compare import _display
from mushin_nb.errors import MushinFileNotFoundError, MushinKeyError, MushinTypeError, bad_value
from mushin_nb.results import enable_method_sel
from mushin_nb.stats import MushinWarning
from mushin_nb.stats.bounded import check_bounds

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
                     bootstrap: str | None = None, margin: float | None = None,
                     bounds: dict[str, tuple[float, float]] | None = None,
                     lower_is_better: Sequence[str] = ()) -> BenchmarkResult:
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
        margin : float, optional
            Equivalence margin in metric units: ``comparisons`` gains ``p_equivalence``
            (TOST), ``p_equivalence_holm`` and ``verdict`` (``"better"``, ``"worse"``,
            ``"equivalent"``, ``"inconclusive"``, of method_a against method_b), and the
            summary's ``vs ref`` shows the verdict.  Without it nothing changes.
        bounds : dict, optional
            ``metric -> (low, high)`` for bounded metrics: their t-intervals are logit
            t-intervals inside the range (see :mod:`mushin_nb.stats.bounded`).
        lower_is_better : sequence of str
            Metrics where lower is better (for the verdicts), e.g. ``["ece"]``.

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
        bounds = {k: v for k, v in check_bounds(bounds).items() if k in metrics}
        lower = sorted(str(m) for m in lower_is_better if m in metrics)
        comparisons, summary = stats.compare_scores(
            scores, methods=methods, metrics=metrics, seeds=data["seed"].values.tolist(),
            test=test, alpha=alpha, pairs=pairs, reference=methods.index(reference),
            bootstrap=bootstrap, seed=seed, margin=margin, bounds=bounds,
            lower_is_better=dict.fromkeys(lower, True))
        missing = int(np.isnan(scores).sum())
        if missing:
            warnings.warn(f"{missing} score(s) are NaN (runs that failed, or seeds that not every "
                          "method has) and are left out of their method's seeds.",
                          MushinWarning, stacklevel=2)
        data.attrs = {**ds.attrs, "test": test, "alpha": float(alpha), "pairs": pairs,
                      "reference": reference, "bootstrap": bootstrap or "none",
                      "seed": int(seed), **_extra_attrs(margin, bounds, lower)}
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
            Columns ``method, metric, mean, ci_low, ci_high, significant_vs_ref``, and
            ``verdict_vs_ref`` (the method against the reference: ``"better"``, ``"worse"``,
            ``"equivalent"``, ``"inconclusive"``) for a result built with ``margin=``.
        """
        table = self._summary.copy()
        verdicts = _display.verdicts_vs_ref(self)
        if verdicts:
            table["verdict_vs_ref"] = [verdicts.get((m, k), "") for m, k in
                                       zip(table["method"], table["metric"])]
        return table

    @property
    def margin(self) -> float | None:
        """The equivalence margin, or None."""
        m = self.data.attrs.get("margin")
        return None if m is None else float(m)

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        """The declared ranges of bounded metrics (``metric -> (low, high)``)."""
        return {k: (float(v[0]), float(v[1]))
                for k, v in json.loads(self.data.attrs.get("bounds", "{}")).items()}

    @property
    def lower_is_better(self) -> list[str]:
        """The metrics where a lower score is better."""
        return list(json.loads(self.data.attrs.get("lower_is_better", "[]")))

    def scores(self, metric: str, method: str) -> np.ndarray:
        """The per-seed scores of one method on one metric, NaN left out."""
        if metric not in self.metrics:
            raise MushinKeyError(f"unknown metric {metric!r}. Known metrics: "
                                 f"{', '.join(map(repr, self.metrics))}. Fix: pass one of them.")
        if method not in self.methods:
            raise MushinKeyError(f"unknown method {method!r}. Known methods: "
                                 f"{', '.join(map(repr, self.methods))}. Fix: pass one of them.")
        v = self.data[metric].values[self.methods.index(method)]
        return v[~np.isnan(v)]

    def plan(self, power: float = 0.8, effect: float | None = None) -> Any:
        """The seed plan of every comparison (see :func:`mushin_nb.compare._plan.plan`)."""
        from mushin_nb.compare import _plan

        return _plan.plan(self, power=power, effect=effect)

    def prob_intervals(self) -> Any:
        """P(A > B) of every comparison with its Brunner-Munzel interval.

        Returns
        -------
        pandas.DataFrame
            ``metric, method_a, method_b, prob_improvement, prob_ci_low, prob_ci_high``
            (confidence ``1 - alpha``; equal to statsmodels' ``rank_compare_2indep``).
        """
        table = self.comparisons[["metric", "method_a", "method_b", "prob_improvement"]].copy()
        cis = [stats.prob_ci(self.scores(k, a), self.scores(k, b), 1 - self.alpha)
               for k, a, b in zip(table["metric"], table["method_a"], table["method_b"])]
        table["prob_ci_low"] = [c.low for c in cis]
        table["prob_ci_high"] = [c.high for c in cis]
        return table.reset_index(drop=True)

    def plot(self, kind: str = "summary", **kwargs: Any) -> Any:
        """Draw the result with :mod:`mushin_nb.plots`.

        Parameters
        ----------
        kind : {"summary", "pvalues", "seeds", "equivalence"}
            CI forest plot, Holm p-value matrix, per-seed strip plot, or the difference
            intervals against the margin (a result built with ``margin=``).
        **kwargs
            Passed on (``metric=``, ``backend="hvplot" | "matplotlib"``, ``ax=``).
        """
        if kind == "equivalence":
            from mushin_nb.plots import statistics as _figures

            return _figures.plot_equivalence(self, **kwargs)
        if kind not in PLOTS:
            raise bad_value("kind", kind, f"one of {', '.join(map(repr, PLOTS))}",
                            "e.g. result.plot('pvalues'); 'equivalence' draws a result built "
                            "with margin=")
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
                    if group == "comparisons" and "verdict" in ds:
                        columns = columns + stats.EQUIVALENCE_COLUMNS
                    tables[group] = stats._frame({c: ds[c].values for c in columns}, columns)
            except (OSError, KeyError, ValueError) as error:
                raise bad_value("path", str(path), "a file written by "
                                "BenchmarkResult.to_netcdf", f"its {group!r} group is "
                                f"unreadable ({error}); write it again with to_netcdf") from None
        for name in data.variables:  # the file's encoding is no part of the result
            data[name].encoding = {}
        return cls(data, tables["comparisons"], tables["summary"])

    # ------------------------------------------------------------------ display

    def __repr__(self) -> str:
        return _display.text(self)

    def _repr_html_(self) -> str:
        return _display.html_page(self)


# ----------------------------------------------------------------------------- helpers


def _extra_attrs(margin: float | None, bounds: dict[str, tuple[float, float]],
                 lower: list[str]) -> dict[str, Any]:
    """The optional settings as NetCDF-safe attrs (dicts and lists as JSON text)."""
    out: dict[str, Any] = {}
    if margin is not None:
        out["margin"] = float(margin)
    if bounds:
        out["bounds"] = json.dumps({k: list(v) for k, v in bounds.items()})
    if lower:
        out["lower_is_better"] = json.dumps(lower)
    return out


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
