"""Multiple-comparison corrections of one family of p-values (Holm-Bonferroni)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mushin_nb.errors import bad_value


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values of one family of tests.

    Equal to ``statsmodels.stats.multitest.multipletests(p, method="holm")[1]``.  NaN
    p-values (undefined tests) are left out of the family and stay NaN.

    Examples
    --------
    >>> holm([0.01, 0.02, float("nan")]).tolist()
    [0.02, 0.02, nan]
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise bad_value("p_values", p_values, "a 1-D sequence of p-values")
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m:
        valid = p[ok]
        order = np.argsort(valid, kind="mergesort")
        stepped = np.maximum.accumulate(valid[order] * np.arange(m, 0, -1))
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(stepped, 1.0)
        out[ok] = adjusted
    return out
