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

import sys
import types
from typing import Any

from mushin_nb.compare._compare import compare, compare_dataset
from mushin_nb.compare._result import PLOTS, BenchmarkResult  # noqa: F401  PLOTS: plot kinds

__all__ = ["BenchmarkResult", "compare", "compare_dataset"]


class _CallableModule(types.ModuleType):
    """This package, callable as :func:`compare`.

    ``mushin_nb.compare`` names the function, but importing this subpackage (as Study and
    the magics do) rebinds the package attribute to the module; calling it still compares.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> BenchmarkResult:
        return compare(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
