"""``ds.mushin``: significance tests and plots straight from a sweep's ``xarray.Dataset``.

Importing this module registers the accessor; importing (or reloading) it again does
nothing more.  ``ds.mushin.compare(...)`` is :func:`mushin_nb.compare.compare_dataset`;
``ds.mushin.plot(kind=...)`` draws :mod:`mushin_nb.plots` figures.

Examples
--------
>>> import xarray as xr
>>> import mushin_nb.accessor
>>> ds = xr.Dataset({"acc": (("lr", "seed"), [[0.8, 0.82, 0.81], [0.9, 0.91, 0.89]])},
...                 coords={"lr": [0.1, 0.01], "seed": [0, 1, 2]})
>>> ds.mushin.compare(over="seed").summary()[["method", "mean", "significant_vs_ref"]]
  method  mean significant_vs_ref
0    0.1  0.81
1   0.01  0.90                  *
"""

from __future__ import annotations

from typing import Any

import xarray as xr

from mushin_nb.errors import bad_value

__all__ = ["NAME", "MushinAccessor", "register"]

#: Attribute name of the accessor on ``xarray.Dataset``.
NAME = "mushin"
KINDS = ("summary", "pvalues", "seeds", "curve")


class MushinAccessor:
    """The ``ds.mushin`` namespace of a sweep Dataset."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    def compare(self, over: str = "seed", by: str | None = None, *, test: str = "welch",
                alpha: float = 0.05, **options: Any) -> Any:
        """Compare the levels of ``by`` with replicates along ``over``.

        Parameters
        ----------
        over, by, test, alpha, **options
            As in :func:`mushin_nb.compare.compare_dataset` (``reference``, ``pairs``,
            ``seed``, ``bootstrap``).

        Returns
        -------
        BenchmarkResult
        """
        from mushin_nb.compare import compare_dataset

        return compare_dataset(self._ds, over=over, by=by, test=test, alpha=alpha, **options)

    def plot(self, kind: str = "summary", metric: str | None = None, x: str | None = None, *,
             over: str = "seed", by: str | None = None, group: str | None = None,
             test: str = "welch", alpha: float = 0.05, backend: str = "hvplot",
             ax: Any = None) -> Any:
        """Draw the sweep: a comparison figure, or a metric curve over a swept dimension.

        Parameters
        ----------
        kind : {"summary", "pvalues", "seeds", "curve"}
            CI forest, Holm p-value matrix, per-seed strips (of ``compare(over, by, test,
            alpha)``), or ``metric`` against ``x`` with a band over ``over``.
        metric : str, optional
            One metric; for ``curve`` default the Dataset's only variable.
        x : str, optional
            ``curve`` only: the x dimension; default the one left besides ``over``/``group``.
        over, by, group, test, alpha, backend, ax
            See :meth:`compare` and :mod:`mushin_nb.plots`.

        Returns
        -------
        holoviews object or matplotlib.figure.Figure
        """
        from mushin_nb import plots

        if kind not in KINDS:
            raise bad_value("kind", kind, f"one of {KINDS}", "e.g. ds.mushin.plot('curve')")
        if kind != "curve":
            result = self.compare(over=over, by=by, test=test, alpha=alpha)
            draw = {"summary": plots.plot_summary, "pvalues": plots.plot_pvalues,
                    "seeds": plots.plot_seeds}[kind]
            return draw(result, metric, backend=backend, ax=ax)
        return plots.plot_curve(self._ds, self._only("metric", metric, list(self._ds.data_vars),
                                                     "metric='acc'"),
                                self._only("x", x, [d for d in self._ds.dims
                                                    if d not in (over, group)], "x='epsilon'"),
                                over=over, group=group, backend=backend, ax=ax)

    @staticmethod
    def _only(arg: str, value: str | None, choices: list[Any], example: str) -> str:
        """``value``, or the single choice when it was left out."""
        if value is not None:
            return value
        if len(choices) != 1:
            raise bad_value(arg, value, f"one of {[str(c) for c in choices]}",
                            f"say which, e.g. {example}")
        return str(choices[0])


def register() -> None:
    """Register ``ds.mushin`` unless this accessor already is (idempotent)."""
    existing = getattr(xr.Dataset.__dict__.get(NAME), "_accessor", None)
    if getattr(existing, "__qualname__", None) == MushinAccessor.__qualname__ and getattr(
            existing, "__module__", None) == __name__:
        return
    xr.register_dataset_accessor(NAME)(MushinAccessor)


register()
