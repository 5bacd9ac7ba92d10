"""record(): in-process jobs, plain Python, the JSON record format."""

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mushin_nb
from mushin_nb.batch import record
from mushin_nb.batch._papermill import RECORD_MIME, decode, encode, normalize, read_records
from mushin_nb.errors import MushinTypeError, MushinValueError
from mushin_nb.progress import job_context


def test_record_is_the_public_name():
    assert mushin_nb.record is record


def test_outside_a_job_shows_values(capsys):
    record(acc=0.5, curve=[1, 2])
    record("loss", np.float64(0.25))
    assert capsys.readouterr().out == "acc = 0.5\ncurve = [1, 2]\nloss = 0.25\n"


def test_inside_a_job_values_become_its_records(capsys):
    with job_context(3) as ctx:
        record(acc=np.float32(0.5), pair=(1, 2), grid=np.eye(2), t=torch.arange(3))
        record("name", "resnet")
        record(acc=0.75)  # a later record of a name wins
    assert capsys.readouterr().out == ""
    assert ctx.records["acc"] == 0.75 and ctx.records["pair"] == [1, 2]
    assert ctx.records["name"] == "resnet"
    np.testing.assert_array_equal(ctx.records["grid"], np.eye(2))
    assert isinstance(ctx.records["t"], np.ndarray)
    np.testing.assert_array_equal(ctx.records["t"], [0, 1, 2])


def test_name_keyword_is_a_record_named_name():
    with job_context(0) as ctx:
        record(name=1.0, value=2.0)
    assert ctx.records == {"name": 1.0, "value": 2.0}


@pytest.mark.parametrize(
    ("call", "cls", "match"),
    [
        (lambda: record(), MushinValueError, r"`values` must be at least one name=value pair"),
        (lambda: record("acc"), MushinTypeError, r"`value` must be given with a name"),
        (lambda: record(3, 0.1), MushinTypeError, r"`name` must be a str, got 3 \(type: int\)"),
        (lambda: record("a b", 1), MushinValueError, r"`name` must be a Python identifier.*'a b'"),
        (lambda: record("acc", 1, acc=2), MushinValueError, r"`name` must be given once"),
        (lambda: record(cfg={"lr": 1}), MushinTypeError,
         r"`record\(cfg=...\)` must be a scalar .*, a list or an array, got \{'lr': 1\}"),
        (lambda: record(z=np.array([1j])), MushinTypeError,
         r"`record\(z=...\)` must be an array of bool, int, float or str.*Fix: convert"),
        (lambda: record(xs=[1, object()]), MushinTypeError, r"`record\(xs=...\)`"),
    ],
)
def test_bad_records_are_refused(call, cls, match):
    with pytest.raises(cls, match=match):
        call()


def test_refused_before_anything_is_stored():
    with job_context(0) as ctx, pytest.raises(MushinTypeError):
        record(ok=1.0, bad={"x": 1})
    assert ctx.records == {}


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**62), 2**62),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32, np.int64, np.int8, np.uint16, np.bool_,
                           np.dtype("<U4")]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
)


@settings(max_examples=150, deadline=None)
@given(value=st.one_of(_scalars, _arrays, st.lists(_scalars, max_size=4),
                       st.lists(st.lists(st.floats(), max_size=3), max_size=3)))
def test_record_format_round_trips_through_strict_json(value):
    clean = normalize("v", value)
    text = json.dumps(encode(clean), allow_nan=False)  # Jupyter messages are strict JSON
    back = decode(json.loads(text))
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.shape == value.shape
        np.testing.assert_array_equal(back, value)  # NaN == NaN here
    else:
        np.testing.assert_equal(back, value)
        assert type(back) is type(clean)


def test_read_records_merges_outputs_in_order():
    nb = {"cells": [
        {"outputs": [{"data": {RECORD_MIME: {"a": 1, "b": {"__float__": "nan"}}}}]},
        {"outputs": [{"data": {"text/plain": "x"}},
                     {"data": {RECORD_MIME: json.dumps({"a": 2})}}]},
        {"cell_type": "markdown"},
    ]}
    records = read_records(nb)
    assert records["a"] == 2 and np.isnan(records["b"])


def test_unknown_encoding_is_refused():
    with pytest.raises(MushinValueError, match=r"unknown record encoding \['__set__'\]"):
        decode({"__set__": [1]})
