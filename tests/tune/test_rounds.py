"""Investment rounds on hand-built trainers: exactly who advances and how many epochs each gets."""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mushin_nb.tune import tune
from tests.tune.conftest import Scripted, read_log, score


def oracle(qs: list[float], rounds: list[int], reduction: float) -> tuple[dict, dict]:
    """Epochs and round reached per candidate when the score ranks candidates by q."""
    alive = list(range(len(qs)))
    epochs, reached = {}, {}
    for r, budget in enumerate(rounds):
        for c in alive:
            epochs[c], reached[c] = budget, r
        alive = sorted(alive, key=lambda c: (-qs[c], c))[:math.ceil(len(alive) / reduction)]
    return epochs, reached


def test_ten_candidates_three_rounds_exact(wd, log):
    qs = [0.3, 0.9, 0.1, 0.7, 0.5, 1.0, 0.2, 0.8, 0.4, 0.6]
    results = tune(Scripted(log), [{"q": q} for q in qs], rounds=[1, 2, 4], reduction=3,
                   working_dir=wd, progress=False)
    got = {c.params.q: (c.epochs, c.round) for c in results}
    # 10 -> ceil(10/3) = 4 advance (q 1.0, 0.9, 0.8, 0.7) -> ceil(4/3) = 2 (q 1.0, 0.9)
    assert got == {1.0: (4, 2), 0.9: (4, 2), 0.8: (2, 1), 0.7: (2, 1), 0.6: (1, 0),
                   0.5: (1, 0), 0.4: (1, 0), 0.3: (1, 0), 0.2: (1, 0), 0.1: (1, 0)}
    assert sum(c.epochs for c in results) == 10 + 4 * 1 + 2 * 2
    assert [c.params.q for c in results] == sorted(qs, reverse=True)
    assert results.best.metric_value == pytest.approx(score("rise", 1.0, 3))
    assert results.best.best_epoch == 3


def test_27_candidates_quarter_advances(wd):
    qs = [(7 * i) % 27 / 27 + 0.01 for i in range(27)]  # a shuffled ranking
    results = tune(Scripted(), [{"q": q} for q in qs], rounds=[1, 3, 9], working_dir=wd,
                   progress=False)
    assert Counter(c.epochs for c in results) == {1: 20, 3: 5, 9: 2}  # 27 -> 7 -> 2
    assert sum(c.epochs for c in results) == 27 + 7 * 2 + 2 * 6


def test_candidates_continue_from_checkpoint_never_from_scratch(wd, log):
    qs = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    tune(Scripted(log), [{"q": q} for q in qs], rounds=[1, 3, 6], reduction=2, working_dir=wd,
         progress=False, dataset="data")
    calls = read_log(log)
    assert calls.count(["load_dataset", "data"]) == 1
    creates = [c[1] for c in calls if c[0] == "create"]
    assert sorted(creates) == qs  # one fresh model per candidate, ever
    # each later round starts by loading the checkpoint; its epoch counter is where it left off
    loads = sorted((c[1], c[3]) for c in calls if c[0] == "load")
    assert loads == [(0.5, 1), (0.6, 1), (0.7, 1), (0.7, 3), (0.8, 1), (0.8, 3)]
    epochs = Counter((c[1], c[3]) for c in calls if c[0] == "epoch")
    assert max(epochs.values()) == 1  # no epoch trained twice
    assert {q: max(e for (qq, e) in epochs if qq == q) + 1 for q in qs} == {
        0.1: 1, 0.2: 1, 0.3: 1, 0.4: 1, 0.5: 3, 0.6: 3, 0.7: 6, 0.8: 6}


@settings(max_examples=25, deadline=None)
@given(qs=st.lists(st.floats(0.1, 10, allow_nan=False), min_size=1, max_size=12),
       rounds=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       reduction=st.sampled_from([1.5, 2, 3, 4, 10]))
def test_round_arithmetic_matches_oracle(qs, rounds, reduction):
    budgets = list(__import__("itertools").accumulate(rounds))
    with tempfile.TemporaryDirectory() as tmp:
        results = tune(Scripted(), [{"q": q} for q in qs], rounds=budgets, reduction=reduction,
                       working_dir=Path(tmp) / "run", progress=False)
    epochs, reached = oracle(qs, budgets, reduction)
    assert {c.index: c.epochs for c in results} == epochs
    assert {c.index: c.round for c in results} == reached
    values = [c.metric_value for c in results]
    assert values == sorted(values, reverse=True)


def test_selection_is_made_at_the_end_of_each_round(wd):
    # "cross": q=3 is worst after 1 epoch but best after 5; it is eliminated after round 0
    results = tune(Scripted(curve="cross"), [{"q": q} for q in (1, 2, 3)], rounds=[1, 5],
                   reduction=3, working_dir=wd, progress=False)
    assert [(c.params.q, c.epochs) for c in results] == [(1, 5), (2, 1), (3, 1)]
    assert results.best.metric_value == pytest.approx(score("cross", 1, 4))


def test_seeds_rank_by_mean_and_every_seed_trains(wd, log):
    # with curve "seeded" the score is q + (seed - 1) / 2: seed 2 of q=1.0 beats every seed
    # of q=1.2 except its own, but the means (1.0 vs 1.2) decide
    qs = [1.0, 1.2, 0.5, 0.8]
    results = tune(Scripted(log, curve="seeded"), [{"q": q} for q in qs], rounds=[1, 2],
                   seeds=[0, 1, 2], reduction=2, working_dir=wd, progress=False)
    assert [c.params.q for c in results] == [1.2, 1.0, 0.8, 0.5]
    assert [c.epochs for c in results] == [2, 2, 1, 1]
    for c in results:
        assert c.metric_value == pytest.approx(c.params.q)
        assert [r.seed for r in c.runs] == [0, 1, 2]
        assert "seed" not in c.params
    creates = sorted((c[1], c[2]) for c in read_log(log) if c[0] == "create")
    assert creates == sorted((q, s) for q in qs for s in (0, 1, 2))


def test_time_budgets_train_until_each_cumulative_budget_is_spent(wd):
    rounds = [timedelta(milliseconds=30), timedelta(milliseconds=70)]
    results = tune(Scripted(sleep=0.012), [{"q": q} for q in (0.2, 0.4, 0.6, 0.8)],
                   rounds=rounds, reduction=2, working_dir=wd, progress=False)
    for c in results:
        budget = rounds[c.round].total_seconds()
        spent = [d.total_seconds() for d in c.durations]
        assert sum(spent) >= budget > sum(spent[:-1])  # stops at the first epoch past it
    assert {c.params.q for c in results if c.round == 1} == {0.8, 0.6}


def test_failed_candidate_ranks_last_and_others_go_on(wd):
    results = tune(Scripted(fail={"q": 0.9, "epoch": 0}), [{"q": q} for q in (0.5, 0.9, 0.7)],
                   rounds=[1, 2], reduction=2, working_dir=wd, progress=False)
    assert [c.params.q for c in results] == [0.7, 0.5, 0.9]
    assert [c.epochs for c in results] == [2, 2, 0]  # ceil(3/2) = 2 advance: 0.7 and 0.5
    assert results[1].round == 1
    (bad,) = results.errors
    assert bad.params.q == 0.9 and bad.failed
    assert bad.error == "RuntimeError: boom at q=0.9 epoch=0"
    assert "raise RuntimeError" in bad.runs[0].traceback
    assert math.isnan(bad.metric_value)


def test_failure_in_a_later_round_keeps_its_epochs_and_ranks_last(wd):
    results = tune(Scripted(fail={"q": 0.9, "epoch": 2}), [{"q": q} for q in (0.5, 0.9, 0.7)],
                   rounds=[2, 4], reduction=2, working_dir=wd, progress=False)
    assert [c.params.q for c in results] == [0.7, 0.5, 0.9]
    bad = results[-1]
    assert (bad.epochs, bad.round, bad.best_epoch) == (2, 1, 1)
    assert bad.metric_value == pytest.approx(score("rise", 0.9, 1))


def test_passthrough_errors_raises_the_candidates_exception(wd):
    with pytest.raises(RuntimeError, match=r"boom at q=0.9 epoch=1"):
        tune(Scripted(fail={"q": 0.9, "epoch": 1}), [{"q": 0.9}], rounds=[3], working_dir=wd,
             passthrough_errors=True, progress=False)


def test_a_failed_seed_fails_the_whole_candidate(wd, log):
    trainer = Scripted(log, curve="seeded", fail={"q": 2.0, "epoch": 0})
    results = tune(trainer, [{"q": 1.0}, {"q": 2.0}], rounds=[1], seeds=[5, 6],
                   working_dir=wd, progress=False)
    assert [c.params.q for c in results] == [1.0, 2.0]
    assert results[1].failed and results[1].runs[1].epochs == ()
    # the second seed of the failed candidate was not trained
    assert [c for c in read_log(log) if c[0] == "create" and c[1] == 2.0] == [["create", 2.0, 5]]
