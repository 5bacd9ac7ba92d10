"""Every number of mushin_nb.stats equals scipy's or statsmodels' on generated scores."""

from __future__ import annotations

import warnings
from unittest import mock

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.meta_analysis import effectsize_smd
from statsmodels.stats.multitest import multipletests

from mushin_nb import stats
from mushin_nb.errors import MushinTypeError, MushinValueError
from mushin_nb.stats import MushinWarning

# scores on a coarse grid make ties and zero differences common, as with accuracies
coarse = st.lists(st.integers(0, 20).map(lambda v: 0.70 + v / 100), min_size=2, max_size=12)
fine = st.lists(st.floats(0, 1, allow_nan=False, width=32), min_size=2, max_size=12)
scores = st.one_of(coarse, fine)


def _scipy_test(name, a, b, seed=0):
    if name == "welch":
        return sps.ttest_ind(a, b, equal_var=False)
    if name == "student":
        return sps.ttest_ind(a, b)
    if name == "paired-t":
        return sps.ttest_rel(a, b)
    if name == "mannwhitney":
        return sps.mannwhitneyu(a, b)
    if name == "wilcoxon":
        return sps.wilcoxon(a, b)
    return sps.permutation_test((a, b), lambda x, y, axis: x.mean(axis) - y.mean(axis),
                                vectorized=True, rng=np.random.default_rng(seed))


def _holm(p):
    """statsmodels' Holm; its gc.collect() per call is skipped (it only costs time here)."""
    with mock.patch("gc.collect"):
        return multipletests(p, method="holm")[1]


def _same(ours, ref, tol=1e-9):
    ours, ref = np.asarray(ours, float), np.asarray(ref, float)
    np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol, equal_nan=True)


@settings(max_examples=25, deadline=None)
@given(a=scores, b=scores, test=st.sampled_from(stats.TESTS), seed=st.integers(0, 1000))
def test_every_test_gives_scipys_statistic_and_p_value(a, b, test, seed):
    if test in stats.PAIRED_TESTS:
        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _scipy_test(test, np.array(a), np.array(b), seed)
    ours = stats.run_test(a, b, test=test, seed=seed)
    _same(ours.pvalue, ref.pvalue)
    _same(ours.statistic, ref.statistic)


@settings(max_examples=50, deadline=None)
@given(p=st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=30))
def test_holm_equals_statsmodels(p):
    _same(stats.holm(p), _holm(p), tol=1e-12)


def test_holm_leaves_undefined_p_values_out_of_the_family():
    p = [0.01, float("nan"), 0.04]
    _same(stats.holm(p), [0.02, np.nan, 0.04])


@settings(max_examples=40, deadline=None)
@given(a=fine, b=fine, confidence=st.sampled_from([0.9, 0.95, 0.99]))
def test_t_intervals_equal_scipy(a, b, confidence):
    assume(np.ptp(a) > 0 and np.ptp(b) > 0)
    x, y = np.array(a), np.array(b)
    _same(stats.mean_ci(a, confidence),
          sps.t.interval(confidence, len(a) - 1, loc=x.mean(), scale=sps.sem(x)))
    for kind, equal_var in (("welch", False), ("student", True)):
        ci = sps.ttest_ind(x, y, equal_var=equal_var).confidence_interval(confidence)
        _same(stats.diff_ci(a, b, kind=kind, confidence=confidence), (ci.low, ci.high))
    n = min(len(a), len(b))
    assume(np.ptp(x[:n] - y[:n]) > 0)
    ci = sps.ttest_rel(x[:n], y[:n]).confidence_interval(confidence)
    _same(stats.diff_ci(a[:n], b[:n], kind="paired", confidence=confidence), (ci.low, ci.high))


def _mean_diff(x, y, axis=-1):
    return x.mean(axis=axis) - y.mean(axis=axis)


@settings(max_examples=25, deadline=None)
@given(a=fine, b=fine, method=st.sampled_from(["percentile", "BCa"]),
       paired=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_bootstrap_intervals_equal_scipy_bootstrap_with_the_same_seed(a, b, method, paired,
                                                                      seed):
    if paired:
        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
        assume(np.ptp(np.subtract(a, b)) > 0)
    assume(np.ptp(a) > 0 and np.ptp(b) > 0)
    kw = dict(n_resamples=2000, confidence_level=0.9, method=method, vectorized=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sps.bootstrap((np.array(a), np.array(b)), _mean_diff, paired=paired,
                            rng=np.random.default_rng(seed), **kw).confidence_interval
        ref_mean = sps.bootstrap((np.array(a),), np.mean, rng=np.random.default_rng(seed),
                                 **kw).confidence_interval
        ours = stats.bootstrap_ci(a, b, method=method.lower(), paired=paired, confidence=0.9,
                                  n_resamples=2000, rng=seed)
        ours_mean = stats.bootstrap_ci(a, method=method.lower(), confidence=0.9,
                                       n_resamples=2000, rng=np.random.default_rng(seed))
    assume(np.isfinite(ref).all() and np.isfinite(ref_mean).all())  # scipy's degenerate cases
    _same(ours, ref)
    _same(ours_mean, ref_mean)


def test_bootstrap_is_deterministic_per_seed_and_differs_across_seeds():
    a, b = [0.81, 0.84, 0.80, 0.86, 0.83], [0.79, 0.80, 0.78, 0.82, 0.77]
    first = stats.bootstrap_ci(a, b, rng=3)
    assert first == stats.bootstrap_ci(a, b, rng=3)
    assert first == stats.bootstrap_ci(a, b, rng=np.random.default_rng(3))
    assert first != stats.bootstrap_ci(a, b, rng=4)


def test_constant_scores_give_a_zero_width_bootstrap_interval():
    assert stats.bootstrap_ci([0.5, 0.5, 0.5], [0.25, 0.25], method="percentile") == (0.25, 0.25)


@settings(max_examples=40, deadline=None)
@given(a=fine, b=fine)
def test_effect_sizes_equal_statsmodels_and_scipy(a, b):
    x, y = np.array(a), np.array(b)
    assume(np.ptp(np.concatenate([x, y])) > 0)
    smd, _ = effectsize_smd(x.mean(), x.std(ddof=1), len(x), y.mean(), y.std(ddof=1), len(y))
    _same(stats.hedges_g(a, b), smd)
    u = sps.mannwhitneyu(x, y).statistic
    _same(stats.prob_improvement(a, b), u / (len(x) * len(y)), tol=1e-12)


@pytest.mark.parametrize(("test", "n", "floor"), [
    ("wilcoxon", 5, 2 / 2**5), ("wilcoxon", 6, 2 / 2**6), ("mannwhitney", 3, 2 / 20),
    ("mannwhitney", 4, 2 / 70), ("permutation", 3, 2 / 20), ("welch", 2, 0.0)])
def test_min_p_value_is_the_floor_of_the_exact_test(test, n, floor):
    assert stats.min_p_value(test, n, n) == pytest.approx(floor)


def _family(n_methods=3, n_metrics=2, n_seeds=6, seed=0):
    rng = np.random.default_rng(seed)
    shift = np.linspace(0, 0.05, n_methods)[:, None, None]
    return rng.normal(0.8, 0.02, (n_methods, n_metrics, n_seeds)) + shift


@pytest.mark.parametrize("test", stats.TESTS)
@pytest.mark.parametrize("pairs", stats.PAIRS)
def test_compare_scores_rows_equal_scipy_and_statsmodels(test, pairs):
    x = _family(4, 2, 7)
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
            ref = _scipy_test(test, a, b, seed=5)
            _same([row.statistic, row.p_value], [ref.statistic, ref.pvalue])
            _same([row.mean_a, row.mean_b, row.diff], [a.mean(), b.mean(), a.mean() - b.mean()])
            kind = "paired" if test in stats.PAIRED_TESTS else (
                "student" if test == "student" else "welch")
            _same([row.diff_ci_low, row.diff_ci_high], stats.diff_ci(a, b, kind=kind))
            _same(row.prob_improvement, sps.mannwhitneyu(a, b).statistic / 49)
            assert (row.n_a, row.n_b, row.test) == (7, 7, test)
        holm = _holm(rows["p_value"])
        _same(rows["p_holm"], holm, tol=1e-12)
        assert list(rows["significant"]) == list(holm < 0.05)
    means = summ[summ["method"] == "c"]["mean"].to_numpy()
    _same(means, x[2].mean(axis=1))
    t_ci = [sps.t.interval(0.95, 6, loc=v.mean(), scale=sps.sem(v)) for v in x[2]]
    _same(summ[summ["method"] == "c"][["ci_low", "ci_high"]].to_numpy(), t_ci)


def test_summary_marks_methods_that_differ_from_the_reference():
    x = np.array([[[0.80, 0.81, 0.79, 0.80, 0.82]], [[0.90, 0.91, 0.92, 0.90, 0.91]],
                  [[0.80, 0.82, 0.79, 0.81, 0.80]]])
    _, summ = stats.compare_scores(x, methods=["ref", "better", "same"], metrics=["acc"])
    assert summ["significant_vs_ref"].tolist() == ["", "*", ""]


@pytest.mark.parametrize("method", ["bca", "percentile"])
@pytest.mark.parametrize("paired", [False, True])
def test_vectorised_bootstrap_equals_scipy_and_is_deterministic(method, paired):
    x = _family(5, 3, 8, seed=1)
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
            ref = sps.bootstrap((x[i, k], x[j, k]), _mean_diff, paired=paired,
                                method=scipy_method, n_resamples=10_000,
                                rng=np.random.default_rng(11), vectorized=True)
            row = comp[(comp["method_a"] == "abcde"[i]) & (comp["method_b"] == "abcde"[j])
                       & (comp["metric"] == f"m{k}")].iloc[0]
            _same([row.diff_ci_low, row.diff_ci_high], ref.confidence_interval)
    ref = sps.bootstrap((x[0, 0],), np.mean, method=scipy_method, n_resamples=10_000,
                        rng=np.random.default_rng(11))
    _same(summ.loc[0, ["ci_low", "ci_high"]].to_numpy(float), ref.confidence_interval)


def test_missing_seeds_are_left_out_for_unpaired_tests():
    x = _family(2, 1, 6)
    x[1, 0, [2, 5]] = np.nan
    comp, summ = stats.compare_scores(x, methods=["a", "b"], metrics=["acc"])
    row = comp.iloc[0]
    b = x[1, 0][~np.isnan(x[1, 0])]
    assert (row.n_a, row.n_b) == (6, 4)
    _same(row.p_value, sps.ttest_ind(x[0, 0], b, equal_var=False).pvalue)
    _same(summ.loc[1, "mean"], b.mean())


def test_paired_tests_refuse_seeds_that_do_not_match():
    x = _family(2, 1, 5)
    x[0, 0, 1] = np.nan
    x[1, 0, 3] = np.nan
    with pytest.raises(MushinValueError, match=r"test='paired-t' pairs scores by seed id, but "
                       r"methods 'a' and 'b' do not share their seeds for metric 'acc': only "
                       r"'a' has seeds \[13\], only 'b' has seeds \[11\]"):
        stats.compare_scores(x, methods=["a", "b"], metrics=["acc"], seeds=[10, 11, 12, 13, 14],
                             test="paired-t")


def test_small_samples_warn_that_alpha_is_out_of_reach():
    x = _family(2, 1, 5)
    with pytest.warns(MushinWarning, match=r"test='wilcoxon' can never give p < alpha=0.05 here "
                      r"\(5 vs 5 seeds: p >= 0.0625\)"):
        stats.compare_scores(x, methods=["a", "b"], metrics=["acc"], test="wilcoxon")
    with pytest.warns(MushinWarning, match="test='mannwhitney' can never give p < alpha"):
        stats.compare_scores(x[:, :, :3], methods=["a", "b"], metrics=["acc"],
                             test="mannwhitney")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 10 seeds reach alpha: no warning at all
        stats.compare_scores(_family(2, 1, 10), methods=["a", "b"], metrics=["acc"],
                             test="wilcoxon")


def test_zero_variance_and_ties_warn():
    x = np.array([[[0.5, 0.5, 0.5, 0.5]], [[0.4, 0.6, 0.5, 0.45]]])
    with pytest.warns(MushinWarning, match="zero variance: every seed gives the same score for "
                      "'a'/'acc'"):
        comp, _ = stats.compare_scores(x, methods=["a", "b"], metrics=["acc"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's own precision note
        ref = sps.ttest_ind(x[0, 0], x[1, 0], equal_var=False).pvalue
    _same(comp.loc[0, "p_value"], ref)
    ties = np.array([[[0.8, 0.8, 0.9, 0.7, 0.8]], [[0.7, 0.8, 0.6, 0.7, 0.7]]])
    with pytest.warns(MushinWarning, match=r"ties in the scores of 'acc': 'a' vs 'b'"):
        stats.compare_scores(ties, methods=["a", "b"], metrics=["acc"], test="mannwhitney")


def test_bad_settings_and_inputs_raise_clear_errors():
    with pytest.raises(MushinValueError, match="`test` must be one of 'welch', 'student', "
                       "'mannwhitney', 'wilcoxon', 'paired-t', 'permutation', got 't'"):
        stats.check_settings("t")
    with pytest.raises(MushinValueError, match=r"`alpha` must be a float in \(0, 1\), got 5"):
        stats.check_settings(alpha=5)
    with pytest.raises(MushinTypeError, match="`alpha` must be a float"):
        stats.check_settings(alpha="0.05")
    with pytest.raises(MushinValueError, match="`pairs` must be one of 'all', 'reference'"):
        stats.check_settings(pairs="some")
    with pytest.raises(MushinValueError, match="`bootstrap` must be one of 'percentile', 'bca' "
                       "or None"):
        stats.check_settings(bootstrap="basic")
    with pytest.raises(MushinTypeError, match="`seed` must be a non-negative int"):
        stats.check_settings(seed=1.5)
    with pytest.raises(MushinValueError, match="`a` must be at least 2 scores"):
        stats.run_test([0.5], [0.4, 0.6])
    with pytest.raises(MushinValueError, match="`b` must be scores without NaN"):
        stats.run_test([0.5, 0.6], [0.4, float("nan")])
    with pytest.raises(MushinValueError, match="`b` must be as many scores as `a` \\(2\\) for "
                       "the paired test 'wilcoxon'"):
        stats.run_test([0.5, 0.6], [0.4, 0.5, 0.6], test="wilcoxon")
    with pytest.raises(MushinValueError, match="method 'b' has 1 score\\(s\\) for metric 'acc': "
                       "a test needs at least 2 seeds"):
        stats.compare_scores(np.array([[[0.5, 0.6]], [[0.5, np.nan]]]), methods=["a", "b"],
                             metrics=["acc"])
