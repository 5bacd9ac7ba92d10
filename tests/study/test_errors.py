"""Bad input to Study is refused where it enters, before any training, with a message that
names the argument, shows the value and says the fix."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mushin_nb.errors import (
    MushinKeyError,
    MushinNotADirectoryError,
    MushinTypeError,
    MushinValueError,
)
from mushin_nb.study import Study

BATCHES = [(0, 1)]  # never read: every case fails before evaluation


def never(seed):
    raise AssertionError("no training may run for a study with bad input")


def make(**changes):
    kwargs = dict(methods={"a": never, "b": never}, seeds=[0, 1, 2], data=BATCHES,
                  num_classes=10)
    kwargs.update(changes)
    return Study(**kwargs)


def batches():
    yield from BATCHES


@pytest.mark.parametrize(("changes", "error", "match"), [
    ({"methods": {}}, MushinTypeError, r"`methods` must be a non-empty dict of name -> train_fn"),
    ({"methods": [never]}, MushinTypeError, r"`methods` must be a non-empty dict"),
    ({"methods": {"a": 3}}, MushinTypeError,
     r"`methods\['a'\]` must be a callable train_fn\(seed\) -> path, got 3 \(type: int\)"),
    ({"methods": {1: never}}, MushinTypeError, r"keyed by non-empty str method names, got 1"),
    ({"methods": {" ": never}}, MushinTypeError, r"keyed by non-empty str method names"),
    ({"methods": {"a b": never, "a_b": never}}, MushinValueError,
     r"`methods` must be a name distinct from 'a b' once made safe for paths \(both become "
     r"'a_b'\).* Fix: rename one of them"),
    ({"seeds": []}, MushinValueError, r"`seeds` must be a non-empty list of ints, got \[\]"),
    ({"seeds": "012"}, MushinTypeError, r"`seeds` must be a list of ints, got '012'"),
    ({"seeds": 3}, MushinTypeError, r"`seeds` must be a list of ints, got 3 \(type: int\)"),
    ({"seeds": [0, 1.5]}, MushinTypeError, r"`seeds` must be a list of ints.*1\.5 is not an int"),
    ({"seeds": [True, False]}, MushinTypeError, r"True is not an int"),
    ({"seeds": [0, 1, 1, 2, 2]}, MushinValueError,
     r"`seeds` must be unique ints.* Fix: remove the repeated seed\(s\) \[1, 2\]"),
    ({"data": None}, MushinTypeError, r"`data` must be a re-iterable of \(inputs, targets\) "
                                      r"batches, got None"),
    ({"data": 5}, MushinTypeError, r"`data` must be a re-iterable.*got 5 \(type: int\)"),
    ({"data": iter(BATCHES)}, MushinTypeError,
     r"`data` must be re-iterable \(every model makes one pass over it\).*list_iterator.* Fix: "
     r"pass a DataLoader or list\(batches\), not a generator or iterator"),
    ({"data": batches()}, MushinTypeError, r"`data` must be re-iterable.*type: generator"),
    ({"num_classes": None}, MushinTypeError, r"`num_classes` must be a positive int, got None"),
    ({"num_classes": 2.0}, MushinTypeError, r"`num_classes` must be a positive int, got 2\.0"),
    ({"num_classes": 0}, MushinValueError, r"`num_classes` must be a positive int, got 0"),
    ({"num_classes": 1}, MushinValueError, r"`num_classes` must be an int >= 2, got 1"),
    ({"test": "t-test"}, MushinValueError, r"`test` must be one of 'welch', 'student'"),
    ({"alpha": 1.5}, MushinValueError, r"`alpha` must be a float in \(0, 1\), got 1\.5"),
    ({"task": "regression"}, MushinKeyError, r"unknown task 'regression'\. Known tasks: "),
    ({"metrics": ["acc"]}, MushinKeyError, r"unknown metric 'acc' in `metrics`"),
    ({"ignore_index": "255"}, MushinTypeError, r"`ignore_index` must be an int or None"),
    ({"predict_fn": "softmax"}, MushinTypeError, r"`predict_fn` must be a callable"),
    ({"load_fn": "torch.load"}, MushinTypeError,
     r"`load_fn` must be a callable load_fn\(path\) -> model.*state_dict_loader"),
    ({"reference": "c"}, MushinValueError,
     r"`reference` must be one of the methods \['a', 'b'\], got 'c'"),
    ({"working_dir": 3}, MushinTypeError, r"`working_dir` must be a path, got 3"),
])
def test_bad_input_is_refused_before_training(changes, error, match):
    with pytest.raises(error, match=match):
        make(**changes)


def test_a_working_dir_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "results.txt"
    path.write_text("keep me")
    with pytest.raises(MushinNotADirectoryError, match=r"`working_dir` must be a directory \(it "
                                                      r"is a file\).*results.txt"):
        make(working_dir=path)
    assert path.read_text() == "keep me"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=2, max_size=6).filter(
    lambda seeds: len(set(seeds)) < len(seeds)))
def test_repeated_seeds_are_named(seeds):
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    with pytest.raises(MushinValueError, match=re.escape(f"repeated seed(s) {repeated}")):
        make(seeds=seeds)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=6, unique=True))
def test_unique_int_seeds_are_kept_in_order(seeds):
    assert make(seeds=seeds).seeds == seeds


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=20).filter(str.strip))
def test_any_method_name_is_accepted_kept_and_swept_as_a_safe_value(name):
    study = make(methods={name: never})
    assert list(study.methods) == [name]
    assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", study._slugs[name])
