"""compare_scores: every row equals scipy / statsmodels, its warnings and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats as sps

from mushin_nb import stats
from mushin_nb.errors import MushinValueError
from mushin_nb.stats import MushinWarning
from tests.stats.conftest import family, holm_reference, mean_diff, same, scipy_test


@pytest.mark.parametrize("test", stats.TESTS)
@pytest.mark.parametrize("pairs", stats.PAIRS)
def test_compare_scores_rows_equal_scipy_and_statsmodels(test, pairs):
    x = family(4, 2, 7)
    methods, metrics = ["a", "b", "c", "d"], ["acc", "f1"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MushinWarning)
        comp, summ = stats.compare_scores(x, methods=methods, metrics=metrics, test=test,
                                          pairs=pairs, reference=1, seed=5)
    assert tuple(comp.columns) == stats.COMPARISON_COLUMNS
    assert tuple(summ.columns) == stats.SUMMARY_COLUMNS
    expected_pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)] if pairs == "all" \
        else [(0, 1), (2, 1), (3, 1)]
    assert len(comp) == 2 * len(expected_pairs)
    for k, metric in enumerate(metrics):
        rows = comp[comp["metric"] == metric]
        assert list(zip(rows["method_a"], rows["method_b"])) == [
            (methods[i], methods[j]) for i, j in expected_pairs]
        for (i, j), row in zip(expected_pairs, rows.itertuples()):
            a, b = x[i, k], x[j, k]
            ref = scipy_test(test, a, b, seed=5)
            same([row.statistic, row.p_value], [ref.statistic, ref.pvalue])
            same([row.mean_a, row.mean_b, row.diff], [a.mean(), b.mean(), a.mean() - b.mean()])
            kind = "paired" if test in stats.PAIRED_TESTS else (
                "student" if test == "student" else "welch")
            same([row.diff_ci_low, row.diff_ci_high], stats.diff_ci(a, b, kind=kind))
            same(row.prob_improvement, sps.mannwhitneyu(a, b).statistic / 49)
            assert (row.n_a, row.n_b, row.test) == (7, 7, test)
        holm = holm_reference(rows["p_value"])
        same(rows["p_holm"], holm, tol=1e-12)
        assert list(rows["significant"]) == list(holm < 0.05)
    means = summ[summ["method"] == "c"]["mean"].to_numpy()
    same(means, x[2].mean(axis=1))
    t_ci = [sps.t.interval(0.95, 6, loc=v.mean(), scale=sps.sem(v)) for v in x[2]]
    same(summ[summ["method"] == "c"][["ci_low", "ci_high"]].to_numpy(), t_ci)


def test_summary_marks_methods_that_differ_from_the_reference():
    x = np.array([[[0.80, 0.81, 0.79, 0.80, 0.82]], [[0.90, 0.91, 0.92, 0.90, 0.91]],
                  [[0.80, 0.82, 0.79, 0.81, 0.80]]])
    _, summ = stats.compare_scores(x, methods=["ref", "better", "same"], metrics=["acc"])
    assert summ["significant_vs_ref"].tolist() == ["", "*", ""]


@pytest.mark.parametrize("method", ["bca", "percentile"])
@pytest.mark.parametrize("paired", [False, True])
def test_vectorised_bootstrap_equals_scipy_and_is_deterministic(method, paired):
    x = family(5, 3, 8, seed=1)
    test = "paired-t" if paired else "welch"
    kw = dict(methods=list("abcde"), metrics=["m0", "m1", "m2"], test=test, bootstrap=method,
              seed=11)
    comp, summ = stats.compare_scores(x, **kw)
    comp2, summ2 = stats.compare_scores(x, **kw)
    assert comp.equals(comp2) and summ.equals(summ2)
    assert not comp.equals(stats.compare_scores(x, **{**kw, "seed": 12})[0])
    scipy_method = "BCa" if method == "bca" else "percentile"
    # the first pair draws exactly as scipy does; paired draws are shared by every pair
    rows = [(0, 1)] + ([(2, 4), (1, 3)] if paired else [])
    for i, j in rows:
        for k in range(3):
            ref = sps.bootstrap((x[i, k], x[j, k]), mean_diff, paired=paired,
                                method=scipy_method, n_resamples=10_000,
                                rng=np.random.default_rng(11), vectorized=True)
            row = comp[(comp["method_a"] == "abcde"[i]) & (comp["method_b"] == "abcde"[j])
                       & (comp["metric"] == f"m{k}")].iloc[0]
            same([row.diff_ci_low, row.diff_ci_high], ref.confidence_interval)
    ref = sps.bootstrap((x[0, 0],), np.mean, method=scipy_method, n_resamples=10_000,
                        rng=np.random.default_rng(11))
    same(summ.loc[0, ["ci_low", "ci_high"]].to_numpy(float), ref.confidence_interval)


def test_missing_seeds_are_left_out_for_unpaired_tests():
    x = family(2, 1, 6)
    x[1, 0, [2, 5]] = np.nan
    comp, summ = stats.compare_scores(x, methods=["a", "b"], metrics=["acc"])
    row = comp.iloc[0]
    b = x[1, 0][~np.isnan(x[1, 0])]
    assert (row.n_a, row.n_b) == (6, 4)
    same(row.p_value, sps.ttest_ind(x[0, 0], b, equal_var=False).pvalue)
    same(summ.loc[1, "mean"], b.mean())


def test_paired_tests_refuse_seeds_that_do_not_match():
    x = family(2, 1, 5)
    x[0, 0, 1] = np.nan
    x[1, 0, 3] = np.nan
    with pytest.raises(MushinValueError, match=r"test='paired-t' pairs scores by seed id, but "
                       r"methods 'a' and 'b' do not share their seeds for metric 'acc': only "
                       r"'a' has seeds \[13\], only 'b' has seeds \[11\]"):
        stats.compare_scores(x, methods=["a", "b"], metrics=["acc"], seeds=[10, 11, 12, 13, 14],
                             test="paired-t")


def test_small_samples_warn_that_alpha_is_out_of_reach():
    x = family(2, 1, 5)
    with pytest.warns(MushinWarning, match=r"test='wilcoxon' can never give p < alpha=0.05 here "
                      r"\(5 vs 5 seeds: p >= 0.0625\)"):
        stats.compare_scores(x, methods=["a", "b"], metrics=["acc"], test="wilcoxon")
    with pytest.warns(MushinWarning, match="test='mannwhitney' can never give p < alpha"):
        stats.compare_scores(x[:, :, :3], methods=["a", "b"], metrics=["acc"],
                             test="mannwhitney")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 10 seeds reach alpha: no warning at all
        stats.compare_scores(family(2, 1, 10), methods=["a", "b"], metrics=["acc"],
                             test="wilcoxon")


def test_zero_variance_and_ties_warn():
    x = np.array([[[0.5, 0.5, 0.5, 0.5]], [[0.4, 0.6, 0.5, 0.45]]])
    with pytest.warns(MushinWarning, match="zero variance: every seed gives the same score for "
                      "'a'/'acc'"):
        comp, _ = stats.compare_scores(x, methods=["a", "b"], metrics=["acc"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's own precision note
        ref = sps.ttest_ind(x[0, 0], x[1, 0], equal_var=False).pvalue
    same(comp.loc[0, "p_value"], ref)
    ties = np.array([[[0.8, 0.8, 0.9, 0.7, 0.8]], [[0.7, 0.8, 0.6, 0.7, 0.7]]])
    with pytest.warns(MushinWarning, match=r"ties in the scores of 'acc': 'a' vs 'b'"):
        stats.compare_scores(ties, methods=["a", "b"], metrics=["acc"], test="mannwhitney")
