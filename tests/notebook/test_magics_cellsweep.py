"""run_cell_sweep without IPython: the cell as a task, its isolation, pickling and errors."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest

from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinRuntimeError,
    MushinSyntaxError,
    MushinTypeError,
    MushinValueError,
    SweepFailedError,
)
from mushin_nb.notebook.cellsweep import compare_sweep, load_sweep, run_cell_sweep
from mushin_nb.notebook.cellsweep.run import _CellTask
from mushin_nb.workflows import multirun

CELL = """
import mushin_nb
total = sum(w * s for s in range(n))    # a generator sees the job's variables
mushin_nb.record(total=total)
if w < 0:
    raise ValueError(f"negative weight {w}")
{"scaled": total * factor}
"""


def test_cell_runs_per_job_over_a_copy_of_the_namespace(in_tmp):
    namespace = {"factor": 10, "unused": object()}
    before = dict(namespace)
    ds = run_cell_sweep(CELL, {"w": multirun([1, 2, -1]), "n": 4}, namespace=namespace,
                        out="res", working_dir=in_tmp / "wd", progress=False)
    total = np.array([sum(w * s for s in range(4)) for w in (1, 2)])
    np.testing.assert_array_equal(ds["total"].values[:2], total)
    np.testing.assert_array_equal(ds["scaled"].values[:2], total * 10)
    assert np.isnan(ds["scaled"].values[2]) and ds.attrs == {"n": 4}
    assert namespace.pop("res") is ds and namespace == before


def test_raise_on_failure(in_tmp):
    with pytest.raises(SweepFailedError, match="negative weight -1"):
        run_cell_sweep(CELL, {"w": multirun([1, -1]), "n": 2}, namespace={"factor": 1},
                       working_dir=in_tmp / "wd", raise_on_failure=True, progress=False)


def test_a_last_expression_that_is_not_a_dict_is_not_a_metric(in_tmp):
    ds = run_cell_sweep("import mushin_nb\nmushin_nb.record(y=x + 1)\nx * 100",
                        {"x": multirun([1, 2])}, namespace={}, working_dir=in_tmp / "wd",
                        progress=False)
    assert list(ds.data_vars) == ["y"] and ds["y"].values.tolist() == [2, 3]


def test_task_pickles_with_the_names_that_pickle():
    namespace = {"factor": 3, "lock": threading.Lock(), "_hidden": 1}
    task = pickle.loads(pickle.dumps(_CellTask("{'v': factor * x}", namespace)))
    assert task(x=2) == {"v": 6}
    assert task.unsent == {"lock"} and "_hidden" not in task.namespace
    with pytest.raises(MushinRuntimeError, match="`lock` is defined in the notebook but could "
                                                 "not be sent to the launcher's worker"):
        pickle.loads(pickle.dumps(_CellTask("with lock:\n    pass", namespace)))()
    with pytest.raises(NameError, match="'nowhere' is not defined"):
        task_missing = pickle.loads(pickle.dumps(_CellTask("nowhere", namespace)))
        task_missing()


def test_a_cell_that_does_not_compile_runs_nothing(in_tmp):
    with pytest.raises(MushinSyntaxError, match=r"line 2, column 8: invalid syntax") as info:
        run_cell_sweep("a = 1\nb = a +* 2\n", {"x": multirun([1])}, namespace={},
                       working_dir=in_tmp / "wd", progress=False)
    assert str(info.value).endswith(
        "    b = a +* 2\n           ^\nFix: correct the cell; no job was run")
    assert not (in_tmp / "wd").exists()


def test_bad_arguments_say_what_to_do():
    with pytest.raises(MushinTypeError, match="`source` must be a str of Python code"):
        run_cell_sweep(b"x", {}, namespace={})
    with pytest.raises(MushinTypeError, match="`params` must be a mapping name -> value"):
        run_cell_sweep("x", ["lr=1"], namespace={})
    with pytest.raises(MushinTypeError, match="`namespace` must be a mapping of names"):
        run_cell_sweep("x", {}, namespace=None)
    with pytest.raises(MushinValueError, match="`out` must be a Python identifier, got 'a-b'"):
        run_cell_sweep("x", {}, namespace={}, out="a-b")
    with pytest.raises(MushinTypeError, match="`ds` must be an xarray.Dataset"):
        compare_sweep({"acc": [1, 2]})


def test_load_of_a_missing_dir(in_tmp):
    with pytest.raises(MushinFileNotFoundError, match="nowhere"):
        load_sweep(in_tmp / "nowhere")


def test_a_cell_can_skip_its_job(in_tmp, capsys):
    from mushin_nb.notebook.widgets import SweepMonitor

    cell = ("import mushin_nb\n"
            "if w == 2:\n"
            "    raise mushin_nb.JobSkipped('not today')\n"
            "{'v': w * 10}\n")
    monitor = SweepMonitor(display=False)
    ds = run_cell_sweep(cell, {"w": multirun([1, 2])}, namespace={}, out="res",
                        working_dir=in_tmp / "wd", progress=monitor)
    assert ds["v"].values[0] == 10 and np.isnan(ds["v"].values[1])
    assert monitor.statuses == "ds" and monitor.errors == {"1": "not today"}
    assert "1 skipped (skipped: not today)" in capsys.readouterr().out
