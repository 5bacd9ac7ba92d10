"""The seeds field: "0-4", "0,1,2", "range(5)" parsed without eval; written back shortest."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mushin_nb.errors import MushinTypeError, MushinValueError
from mushin_nb.notebook._seeds import MAX_SEED, MAX_SEEDS, format_seeds, parse_seeds

small = st.integers(min_value=0, max_value=500)
spaces = st.sampled_from(["", " ", "  "])


@given(st.lists(small, min_size=1, max_size=30, unique=True), spaces)
def test_a_comma_list_gives_its_ints_in_order(seeds, pad):
    text = ",".join(f"{pad}{seed}{pad}" for seed in seeds)
    assert parse_seeds(text) == seeds


@given(small, st.integers(min_value=0, max_value=300))
def test_a_span_is_inclusive_like_range_to_stop_plus_one(start, length):
    assert parse_seeds(f"{start}-{start + length}") == list(range(start, start + length + 1))


@given(small, small, st.integers(min_value=1, max_value=40), spaces)
def test_range_items_equal_python_range(start, stop, step, pad):
    expected = list(range(start, stop, step))
    if not expected:
        with pytest.raises(MushinValueError, match="ranges are empty"):
            parse_seeds(f"range({start},{pad}{stop},{pad}{step})")
        return
    assert parse_seeds(f"range({start},{pad}{stop},{pad}{step})") == expected


@given(st.integers(min_value=1, max_value=500), spaces)
def test_range_of_a_stop_counts_from_zero(stop, pad):
    assert parse_seeds(f"{pad}range({pad}{stop}{pad}){pad}") == list(range(stop))


@given(st.lists(small, min_size=1, max_size=40, unique=True))
def test_format_then_parse_is_the_identity(seeds):
    text = format_seeds(seeds)
    assert parse_seeds(text) == seeds
    assert len(text) <= len(",".join(map(str, seeds)))


@given(st.lists(small, min_size=2, max_size=20, unique=True), st.data())
def test_a_repeated_seed_is_named(seeds, data):
    repeated = data.draw(st.sampled_from(seeds))
    text = ",".join(map(str, [*seeds, repeated]))
    with pytest.raises(MushinValueError, match=rf"unique seeds.*repeated seed\(s\) \[{repeated}\]"):
        parse_seeds(text)


def test_mixed_items_keep_the_order_written():
    assert parse_seeds("7, 0-2, range(10, 16, 5)") == [7, 0, 1, 2, 10, 15]
    assert format_seeds([7, 0, 1, 2, 10, 15]) == "7,0-2,10,15"


@pytest.mark.parametrize(("text", "match"), [
    ("", r"`seeds` must be at least one seed .*got '' .*Fix: type the seeds"),
    ("   ", r"at least one seed"),
    ("a", r"comma-separated non-negative ints, spans or ranges .*Fix: 'a' is none of these"),
    ("-1", r"Fix: '-1' is none of these"),
    ("1.5", r"Fix: '1.5' is none of these"),
    ("0,,1", r"Fix: remove the empty item"),
    ("0,1,", r"Fix: remove the empty item"),
    ("5-2", r"spans written low-high, got '5-2' .*Fix: write 2-5 instead of 5-2"),
    ("range(0, 4, 0)", r"a range with a positive step"),
    ("range(1,2,3,4)", r"none of these"),
    ("__import__('os').system('true')", r"none of these"),
    ("range(3, 1)", r"ranges are empty"),
    ("0-100000", rf"at most {MAX_SEEDS} seeds \(100001 written\).*Fix: shorten the spans"),
    ("9" * 5000, r"seeds up to 9223372036854775807 \(2\*\*63 - 1\)"),
    (str(MAX_SEED + 1), r"seeds up to"),
])
def test_bad_text_is_explained(text, match):
    with pytest.raises(MushinValueError, match=match):
        parse_seeds(text)


def test_the_largest_seed_is_accepted():
    assert parse_seeds(str(MAX_SEED)) == [MAX_SEED]


@pytest.mark.parametrize("value", [None, 5, [0, 1], b"0-2"])
def test_parse_takes_only_text(value):
    with pytest.raises(MushinTypeError, match=r"`seeds` must be a str .*Fix|`seeds` must be a str"):
        parse_seeds(value)


@pytest.mark.parametrize(("seeds", "cls", "match"), [
    ([0, True], MushinTypeError, r"True is not an int"),
    ([0, 1.0], MushinTypeError, r"1.0 is not an int"),
    ([0, -3], MushinValueError, r"-3 is negative"),
])
def test_format_refuses_what_parse_cannot_read(seeds, cls, match):
    with pytest.raises(cls, match=match):
        format_seeds(seeds)
