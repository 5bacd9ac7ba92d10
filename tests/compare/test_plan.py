"""BenchmarkResult.plan() equals statsmodels' power solvers at each comparison's Holm level,
the repr says when comparisons are underpowered, and bounded metrics keep their intervals
inside their range (the built-in metrics declare [0, 1])."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from statsmodels.stats.power import TTestIndPower, TTestPower

from mushin_nb import stats
from mushin_nb.compare import compare, compare_dataset
from mushin_nb.compare._plan import PLAN_COLUMNS
from mushin_nb.errors import MushinValueError


def _ds(n=5, seed=0, shift=(0.0, 0.002, 0.01), sd=0.004):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.995, sd, (len(shift), n)) + np.array(shift)[:, None] * -1
    return xr.Dataset({"auroc": (("method", "seed"), np.minimum(x, 1.0))},
                      coords={"method": ["a", "b", "c"], "seed": np.arange(n)})


def test_plan_equals_statsmodels_at_the_holm_level():
    result = compare_dataset(_ds(), test="student")
    plan = result.plan(power=0.8)
    assert tuple(plan.columns) == PLAN_COLUMNS
    comp = result.comparisons
    order = np.argsort(comp["p_value"].to_numpy())
    levels = np.empty(3)
    levels[order] = 0.05 / np.array([3, 2, 1])
    x = result.data["auroc"].values
    for r, (i, j) in enumerate(((0, 1), (0, 2), (1, 2))):
        sd = math.sqrt((x[i].var(ddof=1) + x[j].var(ddof=1)) / 2)
        d = TTestIndPower().solve_power(nobs1=5, power=0.8, alpha=levels[r])
        assert plan.loc[r, "detectable_effect"] == pytest.approx(d * sd, rel=1e-3)
        need = TTestIndPower().solve_power(abs(x[i].mean() - x[j].mean()) / sd, power=0.8,
                                           alpha=levels[r])
        assert TTestIndPower().power(abs(x[i].mean() - x[j].mean()) / sd,
                                     plan.loc[r, "seeds_needed"], levels[r]) >= 0.8
        assert abs(plan.loc[r, "seeds_needed"] - math.ceil(need)) <= 1


def test_plan_for_a_given_effect_and_paired_test():
    result = compare_dataset(_ds(), test="paired-t")
    plan = result.plan(effect=0.01)
    x = result.data["auroc"].values
    sd = np.std(x[0] - x[1], ddof=1)
    level = 0.05 / 3 if comp_rank(result, 0) == 0 else None
    if level is not None:
        n = TTestPower().solve_power(0.01 / sd, power=0.8, alpha=level)
        assert plan.loc[0, "seeds_needed"] == max(2, math.ceil(n - 1e-9))
    assert set(plan["test"]) == {"paired-t"}


def comp_rank(result, row):
    return int(np.argsort(np.argsort(result.comparisons["p_value"].to_numpy()))[row])


def test_repr_says_when_comparisons_are_underpowered():
    few = compare_dataset(_ds(n=3, shift=(0.0, 0.001, 0.0015)))
    assert "underpowered: " in repr(few) and "see .plan()" in repr(few)
    many = compare_dataset(_ds(n=40, shift=(0.0, 0.02, 0.04), sd=0.002))
    assert "underpowered" not in repr(many)


def test_bounded_metric_intervals_stay_inside_the_range_and_the_header_names_the_method():
    ds = xr.Dataset({"auroc": (("method", "seed"), [[0.998, 0.999, 1.0], [0.990, 0.996, 0.993],
                                                    [0.97, 0.99, 1.0]])},
                    coords={"method": ["a", "b", "c"], "seed": [0, 1, 2]})
    plain = compare_dataset(ds).summary()
    assert plain["ci_high"].max() > 1.0  # the t-interval leaves [0, 1]
    result = compare_dataset(ds, bounds={"auroc": (0, 1)})
    summary = result.summary()
    assert (summary["ci_high"] <= 1.0).all() and (summary["ci_low"] >= 0).all()
    assert (summary["ci_low"] < summary["mean"]).all()
    assert (summary["mean"] < summary["ci_high"]).all()
    for row in result.summary().itertuples():
        v = ds["auroc"].sel({"method": row.method}).values
        assert (row.ci_low, row.ci_high) == pytest.approx(
            stats.logit_mean_ci(v, bounds=(0, 1)), rel=1e-12)
    assert "logit t-interval for bounded auroc" in repr(result).splitlines()[1]
    comp = result.comparisons
    assert (comp["diff_ci_low"] >= -1).all() and (comp["diff_ci_high"] <= 1).all()
    assert comp[["p_value", "p_holm"]].equals(compare_dataset(ds).comparisons[["p_value",
                                                                                 "p_holm"]])


def test_compare_declares_the_range_of_the_builtin_metrics(trained, ring_test_data):
    result = compare(trained, ring_test_data, num_classes=3, metrics=["accuracy", "ece"])
    assert result.bounds == {"accuracy": (0.0, 1.0), "ece": (0.0, 1.0)}
    assert result.lower_is_better == ["ece"]
    assert "logit t-interval" in repr(result)


def test_bad_bounds_name_the_argument():
    with pytest.raises(MushinValueError, match=r"`bounds\['auroc'\]` must be a pair"):
        compare_dataset(_ds(), bounds={"auroc": (1, 0)})
    with pytest.raises(MushinValueError, match="`bounds` must be a metric name"):
        compare_dataset(_ds(), bounds={"acc": (0, 1)})
