"""Many methods over many tasks: Friedman's test, post-hoc tests and the critical difference.

Demsar (2006): rank the methods within each block (task, dataset), average the ranks, test
"all methods rank alike" with Friedman's chi-square, then compare pairs with Nemenyi's test
(every pair, critical difference ``CD = q_alpha sqrt(k (k + 1) / (6 N))``) or, as Benavoli
et al. (2016) recommend, Wilcoxon signed-rank tests on the block scores with Holm.

Examples
--------
>>> import xarray as xr
>>> rng = np.random.default_rng(0)
>>> scores = rng.normal(0.8, 0.01, (3, 8, 5)) + np.array([0.0, 0.01, 0.03])[:, None, None]
>>> da = xr.DataArray(scores, dims=("method", "task", "seed"),
...                   coords={"method": ["a", "b", "c"]})
>>> r = rank_methods(da)
>>> r.mean_ranks.round(3).to_dict()
{'c': 1.0, 'b': 2.0, 'a': 3.0}
>>> round(r.critical_difference, 4)
1.1719
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mushin_nb.errors import MushinTypeError, MushinValueError, bad_value
from mushin_nb.stats._checks import MushinWarning, _choice, check_settings, method_block_runs
from mushin_nb.stats.corrections import holm

__all__ = ["POSTHOCS", "RankResult", "block_scores", "cliques", "nemenyi_cd", "rank_methods"]

POSTHOCS = ("nemenyi", "holm")


@dataclass
class RankResult:
    """Friedman's test, mean ranks and post-hoc p-values of methods over blocks.

    Attributes
    ----------
    statistic, p_value : float
        Friedman's chi-square and its p-value (``scipy.stats.friedmanchisquare``).
    mean_ranks : pandas.Series
        Mean rank by method over blocks, best (1) first.
    pairwise : pandas.DataFrame
        Post-hoc p-values, methods x methods (1 on the diagonal), in ``mean_ranks`` order.
    critical_difference : float
        Nemenyi's CD at ``alpha``: mean ranks further apart differ.
    """

    statistic: float
    p_value: float
    mean_ranks: Any
    pairwise: Any
    critical_difference: float
    alpha: float
    posthoc: str
    n_blocks: int
    block: str = "task"
    dropped: list = field(default_factory=list)

    @property
    def significant(self) -> bool:
        """Whether Friedman's test rejects "all methods rank alike" at ``alpha``."""
        return bool(self.p_value < self.alpha)

    def groups(self) -> list[list[str]]:
        """Maximal groups of methods no post-hoc test separates (the CD diagram's bars)."""
        return cliques(self)

    def plot(self, *, backend: str = "hvplot", ax: Any = None) -> Any:
        """Critical-difference diagram (see :func:`mushin_nb._figures.plot_cd`)."""
        from mushin_nb.plots import statistics as _figures

        return _figures.plot_cd(self, backend=backend, ax=ax)

    def __repr__(self) -> str:
        ranks = ", ".join(f"{m} {r:.2f}" for m, r in self.mean_ranks.items())
        return (f"RankResult: {len(self.mean_ranks)} methods over {self.n_blocks} "
                f"{self.block}s; Friedman chi2={self.statistic:.4g}, p={self.p_value:.4g}; "
                f"CD={self.critical_difference:.4g} (alpha={self.alpha:g}, "
                f"post-hoc {self.posthoc})\nmean ranks: {ranks}")


def nemenyi_cd(k: int, n_blocks: int, alpha: float = 0.05) -> float:
    """Nemenyi's critical difference of mean ranks (Demsar 2006, section 3.2.2).

    ``q_alpha`` is the studentized range quantile over ``sqrt(2)`` (Demsar's table 5).

    Examples
    --------
    >>> round(nemenyi_cd(4, 14), 3)
    1.254
    """
    from scipy import stats

    q = stats.studentized_range.isf(alpha, k, np.inf) / np.sqrt(2.0)
    return float(q * np.sqrt(k * (k + 1) / (6.0 * n_blocks)))


def block_scores(da: Any, *, block: str = "task", over: str | None = "seed"
                 ) -> tuple[np.ndarray, list[str], list[Any], int]:
    """``(blocks, methods)`` means over ``over``, the methods, the kept blocks, NaNs left out.

    A block in which some method has no score at all is dropped (Friedman needs complete
    blocks); the count of NaN runs left out of the means is returned last.
    """
    x, methods = method_block_runs(da, "block", block, over)
    missing = int(np.isnan(x).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(x, axis=-1).T  # (blocks, methods)
    labels = list(da[block].values) if block in da.coords else list(range(x.shape[1]))
    keep = ~np.isnan(means).any(axis=1)
    return means[keep], methods, [b for b, k in zip(labels, keep) if k], missing


def rank_methods(da: Any, *, block: str = "task", over: str | None = "seed",
                 alpha: float = 0.05, posthoc: str = "nemenyi",
                 lower_is_better: bool = False) -> RankResult:
    """Rank methods over blocks (tasks, datasets) and test which ones differ.

    Parameters
    ----------
    da : xarray.DataArray
        One metric with dims ``(method, block, over)``; seeds are averaged within a block.
        NaN runs are left out of their block's mean (and counted, with a warning); a block
        where a method has no run at all is dropped.
    block : str
        The dimension of the blocks (at least 2 complete ones are needed; 10 or more for a
        useful test).
    over : str or None
        The dimension of the seeds, or None when ``da`` already holds one score per block.
    alpha : float
        Level of the critical difference and of the post-hoc decisions.
    posthoc : {"nemenyi", "holm"}
        Nemenyi's test (``scikit_posthocs.posthoc_nemenyi_friedman``), or Wilcoxon
        signed-rank tests on the block scores of each pair with Holm's correction.
    lower_is_better : bool
        Rank 1 goes to the lowest score (errors, losses).

    Returns
    -------
    RankResult
    """
    from scipy import stats

    _choice("posthoc", posthoc, POSTHOCS)
    check_settings(alpha=alpha)
    if not isinstance(lower_is_better, bool):
        raise bad_value("lower_is_better", lower_is_better, "True or False",
                        cls=MushinTypeError)
    values, methods, blocks, missing = block_scores(da, block=block, over=over)
    n, k = values.shape
    if k < 3:
        raise bad_value("da", methods, "at least 3 methods for Friedman's test",
                        "compare 2 methods with compare_dataset(..., test='wilcoxon') instead")
    if n < 2:
        raise bad_value("block", block, f"a dimension with at least 2 complete {block}s (has "
                        f"{n}); 10 or more give the test power",
                        f"add {block}s, or fill the methods' missing {block}s")
    if missing:
        warnings.warn(f"{missing} NaN run(s) are left out of their {block}'s mean over "
                      f"{over!r} (never imputed).", MushinWarning, stacklevel=2)
    if np.all(np.ptp(values, axis=1) == 0):
        raise MushinValueError(f"every method scores the same in every {block}: nothing to "
                               "rank. Fix: check that the methods really differ (or the data).")
    signed = -values if not lower_is_better else values
    ranks = stats.rankdata(signed, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.friedmanchisquare(*signed.T)
    order = np.argsort(ranks.mean(0), kind="mergesort")
    mean_ranks = _series(ranks.mean(0)[order], [methods[i] for i in order], "mean_rank")
    p = np.ones((k, k))
    if posthoc == "nemenyi":
        q = np.abs(ranks.mean(0)[:, None] - ranks.mean(0)[None]) / np.sqrt(k * (k + 1) / (6 * n))
        iu = np.triu_indices(k, 1)
        p[iu] = stats.studentized_range.sf(q[iu] * np.sqrt(2), k, np.inf)
        p[(iu[1], iu[0])] = p[iu]
    else:
        pairs = list(itertools.combinations(range(k), 2))
        raw = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i, j in pairs:
                d = values[:, i] - values[:, j]
                raw.append(np.nan if np.all(d == 0) else stats.wilcoxon(d).pvalue)
        adj = holm(raw)
        for (i, j), v in zip(pairs, adj):
            p[i, j] = p[j, i] = 1.0 if np.isnan(v) else v
    import pandas as pd

    names = [methods[i] for i in order]
    pairwise = pd.DataFrame(p[np.ix_(order, order)], index=names, columns=names)
    return RankResult(float(res.statistic), float(res.pvalue), mean_ranks, pairwise,
                      nemenyi_cd(k, n, alpha), float(alpha), posthoc, n, block,
                      [b for b in _all_blocks(da, block) if b not in blocks])


def _all_blocks(da: Any, block: str) -> list[Any]:
    return list(da[block].values) if block in da.coords else list(range(da.sizes[block]))


def _series(values: np.ndarray, index: list[str], name: str) -> Any:
    import pandas as pd

    return pd.Series(values, index=pd.Index(index, name="method"), name=name)



def cliques(result: RankResult) -> list[list[str]]:
    """Maximal runs of methods (in rank order) whose every pair the post-hoc does not separate.

    Nemenyi: mean ranks within the CD; Holm: pairwise p-values >= alpha.
    """
    names = list(result.mean_ranks.index)
    ranks = result.mean_ranks.to_numpy()
    p = result.pairwise.loc[names, names].to_numpy()

    def together(i: int, j: int) -> bool:
        if result.posthoc == "nemenyi":
            return abs(ranks[i] - ranks[j]) <= result.critical_difference
        return bool(np.all(p[i:j + 1, i:j + 1] >= result.alpha))

    runs, last_end = [], -1
    for i in range(len(names)):
        j = i
        while j + 1 < len(names) and together(i, j + 1):
            j += 1
        if j > i and j > last_end:
            runs.append(names[i:j + 1])
            last_end = j
    return runs

