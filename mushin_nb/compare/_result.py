"""BenchmarkResult: the scores of every (method, seed) and the statistics that compare them.

It is built from a ``(method, seed)`` Dataset (:meth:`BenchmarkResult.from_dataset`), reads
back as tables and plots, and round-trips through one NetCDF file.
"""

from __future__ import annotations

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
from mushin_nb.stats import MushinWarning

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

    def __repr__(self) -> str:
        return _display.text(self)

    def _repr_html_(self) -> str:
        return _display.html_page(self)


# ----------------------------------------------------------------------------- helpers


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
