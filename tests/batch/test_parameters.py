"""The parameter contract: names from the parameters cell, values only as literals."""

import ast
import enum
import keyword
import math

import nbformat
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from papermill.translators import PythonTranslator

from mushin_nb.batch._papermill import check_name, literal, notebook_parameters
from mushin_nb.errors import MushinSyntaxError, MushinTypeError, MushinValueError


def _nb(source, tags=("parameters",)):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 0"), cell])


def test_names_of_the_parameters_cell_in_order():
    source = (
        "%matplotlib inline\n"
        "lr = 0.1  # a comment with == and = signs\n"
        "opts = dict(a=1, b=2)\n"
        "epochs: int = 3\n"
        "w, (h, d) = 1, (2, 3)\n"
        "lr = 0.2\n"
        "def helper():\n    inner = 1\n"
        "for i in range(2):\n    loop = i\n"
    )
    assert notebook_parameters(_nb(source)) == ["lr", "opts", "epochs", "w", "h", "d"]


def test_a_notebook_without_parameters_cell_is_refused():
    with pytest.raises(MushinValueError, match=r"`path` must be a notebook with a code cell "
                                               r"tagged 'parameters', got 'nb.ipynb'"):
        notebook_parameters(_nb("a = 1", tags=()), "nb.ipynb")


def test_a_parameters_cell_that_is_not_python_is_refused():
    with pytest.raises(MushinSyntaxError, match=r"'parameters' cell of 'nb.ipynb' is not valid"):
        notebook_parameters(_nb("a = = 1"), "nb.ipynb")


class Color(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.float64(0.5), 0.5),
        (np.int32(3), 3),
        (np.bool_(True), True),
        (Color.RED, 1),
        ((1, "a", None), [1, "a", None]),
        ({"k": (np.float32(1.5), [True])}, {"k": [1.5, [True]]}),
    ],
)
def test_literals_are_plain_builtins(value, expected):
    out = literal("x", value)
    assert out == expected
    assert type(out) is type(expected)
    # papermill writes it as code that Python reads back as the same value
    assert ast.literal_eval(PythonTranslator.translate(out)) == expected


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (object(), r"`p` must be a literal: str, int, float, bool, None, or a list/dict"),
        (print, r"got <built-in function print>"),
        ({1, 2}, r"got \{1, 2\} \(type: set\)"),
        (b"os", r"got b'os' \(type: bytes\)"),
        ({1: "a"}, r"`p` must be a dict with str keys"),
        ([1, [2, object()]], r"`p\[1\]\[1\]` must be a literal"),
    ],
)
def test_anything_else_is_refused(value, match):
    with pytest.raises(MushinTypeError, match=match):
        literal("p", value)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(value=_json)
def test_every_literal_is_written_as_a_literal(value):
    # Python's own parser is the reference: the injected source evaluates to the value
    code = PythonTranslator.translate(literal("p", value))
    assert ast.literal_eval(code) == value


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_stay_floats(value):
    code = PythonTranslator.translate(literal("p", value))
    assert code in {"float('nan')", "float('inf')", "float('-inf')"}


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=12))
def test_only_identifiers_are_names(name):
    if name.isidentifier() and not keyword.iskeyword(name):
        assert check_name(name) == name
    else:
        with pytest.raises(MushinValueError, match=r"`parameters` must be keyed by Python "
                                                   r"identifiers"):
            check_name(name)


def test_a_name_that_is_not_a_str_is_a_type_error():
    with pytest.raises(MushinTypeError, match=r"got 1 \(type: int\)"):
        check_name(1)
