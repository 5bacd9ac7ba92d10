"""The comparisons and summary tables: their columns (DESIGN section 2) and dtypes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: Columns of ``BenchmarkResult.comparisons`` (DESIGN section 2), in order.
COMPARISON_COLUMNS = (
    "metric", "method_a", "method_b", "mean_a", "mean_b", "diff", "diff_ci_low",
    "diff_ci_high", "statistic", "p_value", "p_holm", "significant", "effect_size",
    "prob_improvement", "test", "n_a", "n_b",
)
#: Columns of ``BenchmarkResult.summary()`` (DESIGN section 2), in order.
SUMMARY_COLUMNS = ("method", "metric", "mean", "ci_low", "ci_high", "significant_vs_ref")
#: dtype of every column of the two tables, so a saved and re-loaded table is identical
COLUMN_DTYPES = {
    "metric": str, "method_a": str, "method_b": str, "method": str, "test": str,
    "significant_vs_ref": str, "significant": bool, "n_a": np.int64, "n_b": np.int64,
    "verdict": str,
}


def _frame(columns: dict[str, Any], order: Sequence[str]) -> Any:
    """Build a table with fixed column order and dtypes (strings as Python ``str``)."""
    import pandas as pd

    data = {}
    for name in order:
        kind = COLUMN_DTYPES.get(name, np.float64)
        values = columns[name]
        if kind is str:
            data[name] = np.array([str(v) for v in values], dtype=object)
        else:
            data[name] = np.asarray(values, dtype=kind)
    return pd.DataFrame(data, columns=list(order))
