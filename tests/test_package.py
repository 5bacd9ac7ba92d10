"""The package as a whole: light import, every public name resolves, docstring examples run."""

import doctest
import importlib
import json
import pkgutil
import subprocess
import sys

import pytest

import mushin_nb
from mushin_nb import errors

HEAVY = ["torch", "hydra", "xarray", "papermill", "ipywidgets", "pandas", "matplotlib"]


def test_import_pulls_in_no_heavy_library():
    code = (
        "import sys, json, mushin_nb\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize("name", sorted(set(mushin_nb.__all__)))
def test_public_name_resolves(name):
    assert getattr(mushin_nb, name) is not None


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mushin_nb.nope  # noqa: B018


def _modules():
    for info in pkgutil.walk_packages(mushin_nb.__path__, "mushin_nb."):
        if ".notebook" in info.name and "magics" not in info.name:
            continue  # widget modules need a kernel; their examples run in tests/notebook
        yield info.name


@pytest.mark.parametrize("module_name", sorted(_modules()))
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.MushinValueError, ValueError),
        (errors.MushinTypeError, TypeError),
        (errors.MushinKeyError, KeyError),
        (errors.MushinFileNotFoundError, FileNotFoundError),
        (errors.MushinFileExistsError, FileExistsError),
        (errors.MushinNotADirectoryError, NotADirectoryError),
        (errors.MushinRuntimeError, RuntimeError),
        (errors.MushinSyntaxError, SyntaxError),
        (errors.MushinImportError, ImportError),
        (errors.SweepFailedError, RuntimeError),
        (errors.NotRunError, RuntimeError),
    ],
)
def test_every_error_is_also_the_builtin(cls, builtin):
    with pytest.raises(builtin):
        raise cls("boom")
    assert issubclass(cls, errors.MushinError)


def test_bad_value_message_names_argument_value_and_fix():
    err = errors.bad_value("seeds", [1, 1], "unique ints", "drop the duplicate seed")
    assert isinstance(err, ValueError)
    assert str(err) == (
        "`seeds` must be unique ints, got [1, 1] (type: list). Fix: drop the duplicate seed"
    )


def test_key_error_message_is_not_quoted():
    assert str(errors.MushinKeyError("unknown metric 'x'")) == "unknown metric 'x'"


@pytest.mark.parametrize("name", ["compare", "tune"])
def test_function_names_shared_with_a_submodule_stay_callable(name):
    code = (
        "import mushin_nb, inspect\n"
        f"from mushin_nb.{name} import __name__ as _\n"  # loads the submodule first
        f"from mushin_nb import {name}\n"
        f"print(callable({name}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
