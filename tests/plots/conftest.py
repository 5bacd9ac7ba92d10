"""A real BenchmarkResult for the plots, and the same numbers from scipy / statsmodels."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import DescrStatsW

METHODS = ["baseline", "mixup", "cutmix"]
SEEDS = list(range(6))


def make_data(seed: int = 0) -> xr.Dataset:
    """Accuracy where mixup is clearly better; loss where nobody differs."""
    rng = np.random.default_rng(seed)
    acc = np.stack([0.80 + 0.01 * rng.standard_normal(6), 0.90 + 0.01 * rng.standard_normal(6),
                    0.81 + 0.01 * rng.standard_normal(6)])
    loss = 0.5 + 0.05 * rng.standard_normal((3, 6))
    coords = {"method": METHODS, "seed": SEEDS}
    return xr.Dataset({"accuracy": (("method", "seed"), acc), "loss": (("method", "seed"), loss)},
                      coords=coords)


class ScipyResult:
    """BenchmarkResult's contract, filled with Welch tests, Holm and t-intervals."""

    def __init__(self, data: xr.Dataset, alpha: float = 0.05) -> None:
        self.data, self.alpha = data, alpha
        rows = []
        for metric in data.data_vars:
            family = []
            for a, b in combinations(METHODS, 2):
                xa = data[metric].sel({"method": a}).values
                xb = data[metric].sel({"method": b}).values
                test = stats.ttest_ind(xa, xb, equal_var=False)
                family.append({"metric": metric, "method_a": a, "method_b": b,
                               "mean_a": xa.mean(), "mean_b": xb.mean(),
                               "diff": xa.mean() - xb.mean(), "statistic": test.statistic,
                               "p_value": test.pvalue, "test": "welch",
                               "n_a": len(xa), "n_b": len(xb)})
            reject, p_holm, _, _ = multipletests([r["p_value"] for r in family], alpha=alpha,
                                                 method="holm")
            for row, p, sig in zip(family, p_holm, reject):
                rows.append({**row, "p_holm": p, "significant": bool(sig)})
        self.comparisons = pd.DataFrame(rows)

    def summary(self) -> pd.DataFrame:
        rows = []
        for metric in self.data.data_vars:
            for method in METHODS:
                values = self.data[metric].sel({"method": method}).values
                low, high = DescrStatsW(values).tconfint_mean(alpha=self.alpha)
                rows.append({"method": method, "metric": metric, "mean": values.mean(),
                             "ci_low": low, "ci_high": high,
                             "significant_vs_ref": self._mark(metric, method)})
        return pd.DataFrame(rows)

    def _mark(self, metric: str, method: str) -> str:
        if method == METHODS[0]:
            return ""
        c = self.comparisons
        row = c[(c.metric == metric) & (c.method_a == METHODS[0]) & (c.method_b == method)]
        return "*" if bool(row["significant"].iloc[0]) else ""


@pytest.fixture(scope="session")
def result():
    from mushin_nb.compare import BenchmarkResult

    return BenchmarkResult.from_dataset(make_data(), test="welch", alpha=0.05)


@pytest.fixture(scope="session")
def reference() -> ScipyResult:
    """What the plots must show, computed without our code."""
    return ScipyResult(make_data())
