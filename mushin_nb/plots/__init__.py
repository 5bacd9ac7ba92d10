"""Figures of a comparison (forest, p-values, seeds, curves) and of ranks, aggregates and power.

The comparison: CI forest, Holm p-value matrix, per-seed strips, metric curves; beyond one
family (:mod:`mushin_nb.plots.statistics`): the critical-difference diagram, performance
profiles, aggregate intervals, power curve and equivalence against a margin.

Every plot takes ``backend="hvplot"`` (a HoloViews object drawn by bokeh: hover shows the
exact numbers, several metrics get a selector widget) or ``backend="matplotlib"`` (a static
``matplotlib.figure.Figure`` for papers; pass ``ax=`` to draw into axes you own, and the
figure of those axes is returned).

``result`` is a ``BenchmarkResult`` or anything with its contract: ``.data``, an
``xarray.Dataset`` with dimensions ``(method, seed)`` and one variable per metric;
``.comparisons``, the tidy DataFrame of pairwise tests (``metric, method_a, method_b,
p_value, p_holm, significant, ...``); ``.summary()``, the DataFrame ``method, metric,
mean, ci_low, ci_high, significant_vs_ref``.

Colours mean the same in every figure (:data:`STATUS_COLOURS`): the reference method
(the first) is dark grey, a method or pair that differs after Holm correction is red, one
that does not differ is blue.

Drawing offline
---------------
An interactive figure in a notebook needs BokehJS and Panel's JavaScript in the page.  By
default HoloViews asks the page to fetch them from ``cdn.bokeh.org`` and
``cdn.holoviz.org``, which leaves a blank output wherever the browser reaches nothing
outside (cluster nodes, lab networks).  The first hvplot figure drawn in a Jupyter kernel
therefore calls :func:`offline_notebook`, which is the one change to global plotting
state this module makes: it sets ``panel.config.inline`` and HoloViews'
``notebook_extension.inline`` to True and loads the bokeh extension with its JavaScript
inline (about 3 MB, once per kernel; every later ``hv.extension`` or ``import
hvplot.pandas`` in that kernel is inline too, so a bare ``ds.acc.hvplot.line()`` draws as
well).  If that load fails, the kernel's figures fall back by themselves to
:func:`standalone_html`, the self-contained page that ``report.html`` uses, in an iframe,
rather than to a blank area.  Outside a kernel nothing is loaded or changed.
"""

from mushin_nb.plots._common import STATUS_COLOURS
from mushin_nb.plots._notebook import offline_notebook, standalone_html
from mushin_nb.plots.curves import plot_curve
from mushin_nb.plots.forest import forest_range, plot_summary
from mushin_nb.plots.matrix import plot_pvalues, pvalue_matrix
from mushin_nb.plots.seeds import plot_seeds
from mushin_nb.plots.statistics import (
    plot_aggregates,
    plot_cd,
    plot_equivalence,
    plot_power,
    plot_profile,
)

__all__ = ["STATUS_COLOURS", "forest_range", "offline_notebook", "plot_aggregates", "plot_cd",
           "plot_curve", "plot_equivalence", "plot_power", "plot_profile", "plot_pvalues",
           "plot_seeds", "plot_summary", "pvalue_matrix", "standalone_html"]
