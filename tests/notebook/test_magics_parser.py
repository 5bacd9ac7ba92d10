"""The %%mushin and %mushin lines, parsed without IPython: grammar, options, readable errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mushin_nb.errors import MushinSyntaxError, MushinTypeError, MushinValueError
from mushin_nb.notebook.cellsweep import SweepOptions, parse_command, parse_sweep_line
from mushin_nb.workflows import multirun


def _caret_column(message: str, line: str) -> int:
    """0-based column the caret of an error message points at, in ``line``."""
    rows = message.splitlines()
    shown = next(i for i, row in enumerate(rows) if row == f"    {line}")
    return rows[shown + 1].index("^") - 4


def test_sweeps_fixed_values_and_order():
    params, options = parse_sweep_line(
        "seed=range(0,5) lr=0.1,0.01 opt=choice(adam, 'sgd') epochs=3 name='a b' flag=true "
        "dims=[1,2] tag='1'")
    assert list(params) == ["seed", "lr", "opt", "epochs", "name", "flag", "dims", "tag"]
    assert isinstance(params["seed"], multirun) and params["seed"] == [0, 1, 2, 3, 4]
    assert isinstance(params["lr"], multirun) and params["lr"] == [0.1, 0.01]
    assert params["opt"] == ["adam", "sgd"]
    assert params["epochs"] == 3 and params["name"] == "a b" and params["flag"] is True
    assert params["dims"] == [1, 2] and not isinstance(params["dims"], multirun)
    assert params["tag"] == "1"  # a quoted number stays a string, as in Hydra
    assert options == SweepOptions()


def test_float_range_sort_and_spaces_after_commas():
    params, _ = parse_sweep_line("eps=range(0,1,0.25) k=sort(3,1,2) lr=0.1, 0.01")
    assert params == {"eps": [0.0, 0.25, 0.5, 0.75], "k": [1, 2, 3], "lr": [0.1, 0.01]}


def test_options_in_any_position_and_quoted_paths():
    params, options = parse_sweep_line(
        "--out ds lr=1,2 --working-dir 'my runs/a' --launcher=joblib --no-resume --raise")
    assert params == {"lr": [1, 2]}
    assert options == SweepOptions(out="ds", working_dir="my runs/a", launcher="joblib",
                                   resume=False, raise_on_failure=True)


# values Hydra's grammar writes back unchanged: ints, floats, and quoted strings
_values = st.one_of(
    st.integers(-10**6, 10**6),
    st.floats(-1e6, 1e6, allow_nan=False).filter(lambda f: f != int(f)),
    st.text(st.characters(codec="ascii", categories=["L", "N", "Zs"],
                          include_characters="-_.:/"), max_size=12),
)


def _literal(value):
    return "'" + value + "'" if isinstance(value, str) else repr(value)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
                       st.lists(_values, min_size=1, max_size=4, unique_by=repr),
                       min_size=1, max_size=4),
       st.booleans())
def test_any_grid_written_as_overrides_parses_back(grid, spaces):
    grid = {k: v for k, v in grid.items() if k not in {"if", "in", "is", "or", "as", "def"}}
    sep = ", " if spaces else ","
    line = " ".join(
        f"{name}={sep.join(_literal(v) for v in values)}" if len(values) > 1
        else f"{name}={_literal(values[0])}" for name, values in grid.items()) + " --out ds"
    params, options = parse_sweep_line(line)
    assert options.out == "ds" and list(params) == list(grid)
    for name, values in grid.items():
        got = params[name]
        if len(values) > 1:
            assert isinstance(got, multirun) and list(got) == values
        else:
            assert not isinstance(got, multirun) and got == values[0]
            assert type(got) is type(values[0])


@pytest.mark.parametrize(
    ("line", "at", "says"),
    [
        ("lr=0.1,,0.01 seed=range(0,5)", ",", "extraneous input ','"),
        ("seed=range(0,5) lr=range(0,", None, "no viable alternative"),
        ("lr=0.1 x=\"abc", '"', "token recognition error"),
        ("lr=0.1 seed", "s", "expected `name=value`"),
        ("lr=choice() seed=1", "c", "empty choice is not legal"),
        ("model.lr=0.1", "m", "cannot be a variable of the cell"),
        ("class=1", "c", "cannot be a variable of the cell"),
        ("lr=1 +wd=0.1", "+", "is not a plain `name=value` override"),
        ("lr=1 ~wd", "~", "expected `name=value`"),
        ("x=interval(0,1)", "i", "interval() has no values"),
        ("x=shuffle(1,2,3)", "s", "random order"),
        ("lr=1 lr=2", None, "'lr' is given twice"),
        ("lr=1 --outt ds", "-", "unknown option '--outt'"),
        ("lr=1 --out", "-", "--out needs a value"),
        ("lr=1 --working-dir a b --out x", None, "expected `name=value`, got 'b'"),
    ],
)
def test_syntax_errors_point_at_the_column(line, at, says):
    with pytest.raises(MushinSyntaxError, match="Cannot parse the %%mushin line") as info:
        parse_sweep_line(line)
    message = str(info.value)
    assert says in message
    assert "Fix: " in message
    column = _caret_column(message, line)
    assert info.value.offset == column + 1 and info.value.text == line
    if at is not None:
        assert line[column] == at
    if says == "no viable alternative":
        assert column == len(line)  # the override stops short: the caret is at its end
    if "twice" in says:
        assert line[column:].startswith("lr=2")


def test_bad_out_name_and_type():
    with pytest.raises(MushinValueError, match=r"`--out` must be a Python identifier, got '1x'"):
        parse_sweep_line("lr=1 --out 1x")
    with pytest.raises(MushinTypeError, match="`line` must be a str"):
        parse_sweep_line(["lr=1"])


def test_line_commands():
    assert parse_command("load 'runs/my sweep' --out ds") == ("load", ["runs/my sweep"],
                                                             {"out": "ds"})
    command, args, options = parse_command("compare ds --by lr --test mannwhitney")
    assert (command, args) == ("compare", ["ds"])
    assert options == {"over": "seed", "by": "lr", "test": "mannwhitney", "alpha": 0.05,
                       "out": "_mushin_compare"}
    assert parse_command("compare ds --alpha=0.01")[2]["alpha"] == 0.01


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("lod runs", "unknown command 'lod'"),
        ("", "unknown command ''"),
        ("load", "`load` takes 1 argument(s) DIR, got 0"),
        ("compare a b", "`compare` takes 1 argument(s) NAME, got 2"),
        ("compare ds --over", "--over needs a value"),
        ("compare ds --seeds 5", "unknown option '--seeds'"),
    ],
)
def test_line_command_errors(line, says):
    with pytest.raises(MushinSyntaxError, match="Cannot parse the %mushin line") as info:
        parse_command(line)
    assert says in str(info.value) and "Fix: " in str(info.value)
    if "command" in says or "argument" in says:
        assert "use %mushin load DIR [--out]; %mushin compare NAME [--over" in str(info.value)


def test_bad_alpha():
    with pytest.raises(MushinValueError, match="`--alpha` must be a number in"):
        parse_command("compare ds --alpha five")


def test_load_ext_pulls_in_no_heavy_library():
    code = (
        "import sys, json\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'mushin_nb')\n"
        "assert 'mushin' in shell.magics_manager.magics['cell']\n"
        "assert 'mushin' in shell.magics_manager.magics['line']\n"
        "heavy = ['torch', 'hydra', 'xarray', 'pandas', 'papermill', 'ipywidgets',\n"
        "         'matplotlib', 'mushin_nb.notebook.cellsweep', 'mushin_nb.workflows', 'numpy']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
