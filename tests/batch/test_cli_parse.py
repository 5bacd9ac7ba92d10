"""`mushin-nb`: -p parsing with Hydra's grammar, and the demo command's hand-off."""

import sys
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mushin_nb.cli import main, parse_parameters
from mushin_nb.errors import MushinSyntaxError
from mushin_nb.workflows import multirun


def test_swept_and_fixed_values():
    params = parse_parameters(["lr=0.1,0.01", "seed=range(0,5)", "opt=adam", "tag='a,b'",
                               "layers=[64,32]", "flag=true", "w=sort(3,1,2)",
                               "s='x y',\"a'b\""])
    assert params == {"lr": [0.1, 0.01], "seed": [0, 1, 2, 3, 4], "opt": "adam",
                      "tag": "a,b", "layers": [64, 32], "flag": True, "w": [1, 2, 3],
                      "s": ["x y", "a'b"]}
    assert all(type(v) is str for v in params["s"])
    assert isinstance(params["lr"], multirun) and isinstance(params["seed"], multirun)
    assert isinstance(params["w"], multirun)
    assert not isinstance(params["layers"], multirun) and isinstance(params["layers"], list)


def test_code_in_a_value_stays_a_string():
    item = "x='1); import os; os.system(\"touch pwned\"); ('"
    assert parse_parameters([item]) == {"x": '1); import os; os.system("touch pwned"); ('}


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.integers(-10**6, 10**6) | st.floats(-1e6, 1e6, allow_nan=False)
                       | st.text(alphabet="abcxyz_", min_size=1, max_size=5),
                       min_size=2, max_size=5, unique_by=repr))
def test_a_listed_sweep_parses_back_to_its_values(values):
    text = ",".join(f"'{v}'" if isinstance(v, str) else repr(v) for v in values)
    parsed = parse_parameters([f"p={text}"])["p"]
    assert parsed == values and [type(v) for v in parsed] == [type(v) for v in values]


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ("lr=(", r"`-p` must be name=value in Hydra's override grammar, got 'lr=\('"),
        ("lr", r"`-p` must be name=value .*got 'lr'"),
        ("lr=interval(0,1)", r"`-p` sweeps must list values in order, got 'lr=interval\(0,1\)'"),
        ("lr=shuffle(1,2)", r"`-p` sweeps must list values in order, got 'lr=shuffle\(1,2\)'"),
        ("+lr=1", r"`-p` must set each parameter once as name=value, got '\+lr=1'"),
        ("~lr", r"got '~lr'. Fix: drop \+/~/@"),
        ("lr@pkg=1", r"got 'lr@pkg=1'"),
    ],
)
def test_bad_items_are_refused(item, match):
    with pytest.raises(MushinSyntaxError, match=match):
        parse_parameters([item])


def test_a_name_given_twice_is_refused():
    with pytest.raises(MushinSyntaxError, match=r"got 'lr=2'"):
        parse_parameters(["lr=1", "lr=2"])


def test_bad_items_exit_2_with_the_message(capsys):
    assert main(["batch", "nb.ipynb", "-p", "lr=("]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mushin-nb batch: error: `-p` must be name=value")


def test_demo_hands_its_options_to_the_demo_module(monkeypatch, tmp_path):
    calls = []
    fake = types.ModuleType("mushin_nb._demo")
    fake.main = lambda **kw: calls.append(("main", kw)) or 0
    fake.run_quickstart = lambda **kw: calls.append(("quickstart", kw)) or 0
    monkeypatch.setitem(sys.modules, "mushin_nb._demo", fake)
    assert main(["demo", "--out", str(tmp_path), "--seeds", "3", "--quick"]) == 0
    assert main(["demo", "--krum"]) == 0
    # the main job is the quickstart notebook; the Krum demo is a Python study
    assert calls == [("quickstart", {"out": str(tmp_path), "seeds": 3, "quick": True}),
                     ("main", {"seeds": 5, "quick": False, "krum": True})]  # demo picks `out`


def test_demo_without_the_demo_module_says_so(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mushin_nb._demo", None)  # import fails as if missing
    assert main(["demo"]) == 2
    assert "mushin_nb._demo is missing" in capsys.readouterr().err


def test_unknown_command_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err
