"""The seed planner equals statsmodels' power solvers; Welch's quadrature and the simulated
tests agree with direct simulation of scipy's tests within Monte Carlo error."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.power import TTestIndPower, TTestPower

from mushin_nb import stats
from mushin_nb.errors import MushinTypeError, MushinValueError


@settings(max_examples=30, deadline=None)
@given(d=st.floats(0.3, 3.0), power=st.floats(0.5, 0.95), alpha=st.sampled_from([0.01, 0.05]))
def test_seeds_needed_is_the_ceiling_of_statsmodels_solution(d, power, alpha):
    sd = 0.02
    ours = stats.seeds_needed(d * sd, sd, power=power, alpha=alpha, test="student")
    ref = TTestIndPower().solve_power(effect_size=d, power=power, alpha=alpha)
    assert ours.n == max(2, math.ceil(ref - 1e-9))
    paired = stats.seeds_needed(d * sd, sd, power=power, alpha=alpha, test="paired-t")
    ref = TTestPower().solve_power(effect_size=d, power=power, alpha=alpha)
    assert paired.n == max(2, math.ceil(ref - 1e-9))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 60), power=st.floats(0.5, 0.95), alpha=st.sampled_from([0.01, 0.05]))
def test_detectable_effect_equals_statsmodels(n, power, alpha):
    sd = 0.013
    for solver, paired in ((TTestIndPower(), False), (TTestPower(), True)):
        if paired and n == 2:  # 1 df: statsmodels' noncentral t is NaN, see below
            continue
        ours = stats.detectable_effect(n, sd, power=power, alpha=alpha, paired=paired).effect \
            if paired else stats.detectable_effect(n, sd, power=power, alpha=alpha,
                                                   test="student").effect
        # statsmodels' power at our effect is the asked power ...
        assert solver.power(ours / sd, n, alpha) == pytest.approx(power, abs=1e-9)
        # ... and we equal its solver wherever that converged (at few seeds it can stop
        # early: with 3 pairs, alpha=0.01 and power 0.5 its answer has power 0.40)
        ref = solver.solve_power(None, n, alpha, power)
        if abs(solver.power(ref, n, alpha) - power) < 1e-7:
            assert ours == pytest.approx(ref * sd, rel=1e-6)


def test_paired_power_with_one_degree_of_freedom_matches_simulation():
    rng = np.random.default_rng(0)
    for d in (5.0, 30.0):
        x = rng.normal(d, 1.0, (200_000, 2))
        hit = float(np.mean(sps.ttest_1samp(x, 0, axis=-1).pvalue < 0.01))
        ours = stats.achieved_power(2, d, 1.0, alpha=0.01, test="paired-t").power
        assert abs(ours - hit) < 4 * math.sqrt(hit * (1 - hit) / 200_000)


@pytest.mark.parametrize("n", [3, 5, 10])
def test_achieved_power_equals_statsmodels(n):
    for d in (0.5, 1.0, 2.0):
        assert stats.achieved_power(n, d, 1.0, test="student").power == pytest.approx(
            TTestIndPower().power(d, n, 0.05), rel=1e-9)
        assert stats.achieved_power(n, d, 1.0, test="paired-t").power == pytest.approx(
            TTestPower().power(d, n, 0.05), rel=1e-9)


def _simulated_power(test, n, effect, sds, reps=40_000, seed=7):
    rng = np.random.default_rng(seed)
    a = rng.normal(effect, sds[0], (reps, n[0]))
    b = rng.normal(0.0, sds[1], (reps, n[1]))
    if test == "welch":
        p = sps.ttest_ind(a, b, axis=-1, equal_var=False).pvalue
    elif test == "mannwhitney":
        p = sps.mannwhitneyu(a, b, axis=-1).pvalue
    else:
        p = sps.wilcoxon(a - b, axis=-1).pvalue
    hit = float(np.mean(p < 0.05))
    return hit, math.sqrt(hit * (1 - hit) / reps)


@pytest.mark.parametrize("n, sds, effect", [((3, 3), (0.01, 0.01), 0.02),
                                            ((5, 5), (0.01, 0.03), 0.03),
                                            ((10, 6), (0.005, 0.02), 0.01)])
def test_welch_power_with_unequal_spreads_matches_simulation(n, sds, effect):
    ours = stats.achieved_power(n, effect, sds, test="welch").power
    ref, err = _simulated_power("welch", n, effect, sds)
    assert abs(ours - ref) < 4 * err


@pytest.mark.parametrize("test", ["mannwhitney", "wilcoxon"])
def test_simulated_power_agrees_with_an_independent_simulation(test):
    got = stats.achieved_power(10, 0.01, 0.01, test=test, reps=4000, seed=3)
    ref, err = _simulated_power(test, (10, 10), 0.01, (0.01, 0.01))
    assert got.mc_error == pytest.approx(math.sqrt(got.power * (1 - got.power) / 4000))
    assert abs(got.power - ref) < 4 * math.hypot(got.mc_error, err)
    assert got == stats.achieved_power(10, 0.01, 0.01, test=test, reps=4000, seed=3)


def test_simulated_seeds_needed_reaches_the_power_one_seed_less_does_not():
    plan = stats.seeds_needed(0.02, 0.01, test="mannwhitney", reps=2000, seed=0)
    assert plan.power >= 0.8 and plan.mc_error > 0
    below = stats.achieved_power(plan.n - 1, 0.02, 0.01, test="mannwhitney", reps=2000, seed=0)
    assert below.power < 0.8


def test_planner_rejects_bad_input_with_the_fix():
    with pytest.raises(MushinValueError, match="`sd` must be a finite number > 0"):
        stats.seeds_needed(0.01, 0.0)
    with pytest.raises(MushinTypeError, match="`effect`"):
        stats.seeds_needed("big", 0.01)
    with pytest.raises(MushinValueError, match="`n` must be an int >= 2"):
        stats.detectable_effect(1, 0.01)
    with pytest.raises(MushinValueError, match="`power` must be a float in"):
        stats.seeds_needed(0.01, 0.01, power=1.5)
    with pytest.raises(MushinValueError, match="at least 6 seeds for test='wilcoxon'"):
        stats.detectable_effect(5, 0.01, test="wilcoxon")
    with pytest.raises(MushinValueError, match="`paired` must be False"):
        stats.seeds_needed(0.01, 0.01, test="mannwhitney", paired=True)
