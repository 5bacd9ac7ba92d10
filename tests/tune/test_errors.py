"""Bad input: each a MushinError (and the matching built-in) that names the argument,
shows the value and says the fix; nothing is trained or written before it is raised."""

from __future__ import annotations

import math
import threading
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mushin_nb import rand
from mushin_nb.errors import (
    MushinError,
    MushinFileExistsError,
    MushinKeyError,
    MushinNotADirectoryError,
    MushinRuntimeError,
    MushinTypeError,
    MushinValueError,
)
from mushin_nb.tune import EpochTrainer, SimpleTrainer, tune
from mushin_nb.workflows import multirun
from tests.tune.conftest import Quadratic, Scripted, read_log

PARAMS = [{"q": 0.5}]


def test_rounds_with_a_simple_trainer(wd):
    with pytest.raises(MushinValueError, match=r"`rounds` must be None for a SimpleTrainer.*"
                                               r"got \[1, 2\].*Fix: drop rounds="):
        tune(Quadratic(), [{"x": 1}], rounds=[1, 2], working_dir=wd)
    assert not wd.exists()


def test_rounds_missing_for_an_epoch_trainer(wd):
    with pytest.raises(ValueError, match=r"`rounds` must be given for an EpochTrainer.*"
                                         r"Fix: e.g. rounds=\[1, 3, 9\]"):
        tune(Scripted(), PARAMS, working_dir=wd)
    assert not wd.exists()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=2, max_size=5).filter(
    lambda r: any(b <= a for a, b in zip(r, r[1:]))))
def test_non_increasing_epoch_budgets(rounds):
    with pytest.raises(MushinValueError, match=r"`rounds` must be strictly increasing \(the "
                                               r"budgets are cumulative\), got \["):
        tune(Scripted(), PARAMS, rounds=rounds, progress=False)


def test_non_increasing_time_budgets_and_non_positive_budgets():
    with pytest.raises(MushinValueError, match="strictly increasing"):
        tune(Scripted(), PARAMS, rounds=[timedelta(seconds=2), timedelta(seconds=1)])
    with pytest.raises(MushinValueError, match=r"`rounds` must be positive budgets, got \[0, 1\]"):
        tune(Scripted(), PARAMS, rounds=[0, 1])


def test_mixed_epoch_and_time_budgets():
    with pytest.raises(MushinValueError, match=r"`rounds` must be all epoch counts or all "
                                               r"timedeltas, not a mix"):
        tune(Scripted(), PARAMS, rounds=[1, timedelta(minutes=1)])


@pytest.mark.parametrize("rounds", [3, "1,2", [1.5, 3], [True, 2], []])
def test_rounds_of_the_wrong_type(rounds):
    with pytest.raises(MushinTypeError, match=r"`rounds` must be a (non-empty )?list of"):
        tune(Scripted(), PARAMS, rounds=rounds)


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.floats(max_value=1.0), st.just(math.inf), st.integers(max_value=1)))
def test_reduction_must_exceed_one(reduction):
    with pytest.raises(MushinValueError, match=r"`reduction` must be a finite number > 1, got "
                                               r".*Fix: e.g. reduction=4"):
        tune(Scripted(), PARAMS, rounds=[1], reduction=reduction)


def test_reduction_of_the_wrong_type():
    with pytest.raises(MushinTypeError, match=r"`reduction` must be a number > 1, got '4'"):
        tune(Scripted(), PARAMS, rounds=[1], reduction="4")


class NoMetric(Scripted):
    def train_epoch(self, epoch):
        return {"loss": 0.1}


def test_metric_missing_from_the_returned_dict(wd):
    with pytest.raises(MushinKeyError, match=r"`train_epoch\(\)` must return the tuned metric "
                                             r"'score' \(trainer.metric\), got keys \['loss'\]"
                                             r".*Fix: add 'score'"):
        tune(NoMetric(), PARAMS, rounds=[1], working_dir=wd, progress=False)


class BadReturn(SimpleTrainer):
    metric = "score"

    def __init__(self, out):
        self.out = out

    def train(self, params):
        return self.out


@pytest.mark.parametrize("out, match", [
    ({"score": 1.0}, r"`train\(\) return value` must be a tuple \(model, metric_values\)"),
    ((None, 0.5), r"`train\(\) return value` must be a dict of metric values, got 0.5"),
    ((None, {"score": "high"}), r"`train\(\)\['score'\]` must be a number"),
    ((None, {"acc": 1.0}), r"`train\(\)` must return the tuned metric 'score'"),
])
def test_simple_trainer_return_contract(wd, out, match):
    with pytest.raises(MushinError, match=match):
        tune(BadReturn(out), [{"x": 1}], working_dir=wd, progress=False)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_metric_fails_the_candidate(wd, value):
    class Diverged(Scripted):
        def train_epoch(self, epoch):
            out = super().train_epoch(epoch)
            return {**out, "score": value} if self.model["q"] == 0.9 else out

    results = tune(Diverged(), [{"q": 0.9}, {"q": 0.1}], rounds=[2], working_dir=wd,
                   progress=False)
    (bad,) = results.errors
    assert bad.params.q == 0.9 and results[-1] is bad and bad.epochs == 0
    assert bad.error.startswith(f"MushinValueError: `train_epoch()` must return a finite 'score',"
                                f" got {value!r}")
    with pytest.raises(MushinValueError, match=r"`train_epoch\(\)` must return a finite 'score'"
                                               r", got (nan|inf|-inf) \(type: float\)\. Fix:"):
        tune(Diverged(), [{"q": 0.9}], rounds=[2], working_dir=wd.with_name("pt"),
             passthrough_errors=True, progress=False)


class Unpicklable(Scripted):
    def __init__(self, log):
        super().__init__(log)
        self.lock = threading.Lock()


def test_unpicklable_trainer_is_refused_before_any_training(wd, log):
    with pytest.raises(MushinTypeError, match=r"`trainer` must be pickleable before "
                                              r"load_dataset .*Fix: load data, open files.*"
                                              r"pickle said: TypeError: cannot pickle"):
        tune(Unpicklable(log), PARAMS, rounds=[1], working_dir=wd)
    assert read_log(log) == [] and not wd.exists()


@pytest.mark.parametrize("params", [{}, []])
def test_empty_params(params, wd):
    with pytest.raises(MushinValueError, match=r"`params` must be a non-empty"):
        tune(Scripted(), params, rounds=[1], working_dir=wd)
    assert not wd.exists()


@pytest.mark.parametrize("params, cls, match", [
    ("lr=0.1", MushinTypeError, r"`params` must be a mapping \(grid or random space\) or a list"),
    ([{"q": 1}, 3], MushinTypeError, r"`params\[1\]` must be a dict of parameter values, got 3"),
    ({1: 2}, MushinTypeError, r"`params key` must be a non-empty str"),
    ({"q": multirun([])}, MushinValueError, r"`params\['q'\]` must be a multirun with at least"),
    ({"q": multirun([1]), "r": rand.uniform(0, 1)}, MushinValueError, r"either a grid .* not both"),
])
def test_malformed_params(params, cls, match):
    with pytest.raises(cls, match=match):
        tune(Scripted(), params, rounds=[1])


def test_random_space_needs_n_and_seed_and_grids_take_neither():
    space = {"q": rand.uniform(0.1, 1.0)}
    with pytest.raises(MushinValueError, match=r"`n` must be given when params holds "
                                               r"mushin_nb.rand distributions.*Fix: pass n="):
        tune(Scripted(), space, rounds=[1], seed=0)
    with pytest.raises(MushinValueError, match=r"`seed` must be given when params holds"):
        tune(Scripted(), space, rounds=[1], n=3)
    with pytest.raises(MushinValueError, match=r"`n` must be None unless params holds "
                                               r"mushin_nb.rand distributions, got 3"):
        tune(Scripted(), PARAMS, rounds=[1], n=3)


def test_working_dir_that_is_a_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("keep me")
    with pytest.raises(MushinNotADirectoryError, match=r"`working_dir` must be a directory, not "
                                                       r"a file, got '.*notes.txt'"):
        tune(Scripted(), PARAMS, rounds=[1], working_dir=path)
    assert path.read_text() == "keep me"


def test_working_dir_with_other_files_is_not_overwritten(tmp_path):
    (tmp_path / "jobs").mkdir()
    with pytest.raises(MushinFileExistsError, match=r"`working_dir` must be a new or empty "
                                                    r"directory, or one of an earlier tuning"):
        tune(Scripted(), PARAMS, rounds=[1], working_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["jobs"]


@pytest.mark.parametrize("seeds, cls, match", [
    ([], MushinValueError, r"`seeds` must be a non-empty list of distinct ints, got \[\]"),
    ([1, 1], MushinValueError, r"`seeds` must be a non-empty list of distinct ints"),
    ([0, 1.5], MushinTypeError, r"`seeds` must be a list of ints, got \[0, 1.5\]"),
    (3, MushinTypeError, r"`seeds` must be a list of distinct ints, got 3"),
])
def test_bad_seeds(seeds, cls, match):
    with pytest.raises(cls, match=match):
        tune(Scripted(), PARAMS, rounds=[1], seeds=seeds)


def test_seed_is_never_tuned():
    with pytest.raises(MushinValueError, match=r"`params` must not contain 'seed' when `seeds` "
                                               r"is given, got seed=3\. Fix: drop 'seed'"):
        tune(Scripted(), [{"q": 1, "seed": 3}], rounds=[1], seeds=[0, 1])


def test_not_a_trainer_and_bad_metric():
    with pytest.raises(MushinTypeError, match=r"`trainer` must be a SimpleTrainer or "
                                              r"EpochTrainer instance, got <function"):
        tune(lambda params: 0, PARAMS)

    class Unnamed(Scripted):
        metric = 3

    with pytest.raises(MushinTypeError, match=r"`trainer.metric` must be the name \(str\) of "
                                              r"the metric to maximise, got 3"):
        tune(Unnamed(), PARAMS, rounds=[1])


def test_default_create_model_without_factory_is_a_recorded_failure(wd):
    class Bare(EpochTrainer):
        metric = "score"

        def train_epoch(self, epoch):
            return {"score": 1.0}

    results = tune(Bare(), [{"lr": 0.1}], rounds=[1], working_dir=wd, progress=False)
    assert results.best.failed
    assert "MushinRuntimeError: `Bare.create_model` is not overridden" in results.best.error
    with pytest.raises(MushinRuntimeError, match=r"has no callable 'create_model', got keys "
                                                 r"\['lr'\]\. Fix: override create_model"):
        tune(Bare(), [{"lr": 0.1}], rounds=[1], working_dir=wd.with_name("pt"),
             passthrough_errors=True, progress=False)


def test_abstract_trainers_cannot_be_built():
    with pytest.raises(TypeError, match="abstract"):
        EpochTrainer()
    with pytest.raises(TypeError, match="abstract"):
        SimpleTrainer()
