"""run_notebook / sweep_notebook: real papermill runs of tests/notebooks/batch_grid.ipynb.

Kernel start-up dominates, so the notebook runs few times: a 2x2 grid with one failing job
(then resumed), two parallel jobs twice (threads, joblib), one unknown-parameter run, two
injection attempts, one interpolation string and one timeout.
"""

import os
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest

import mushin_nb
from mushin_nb.batch import _check_options, run_notebook, sweep_notebook
from mushin_nb.batch._papermill import RECORD_MIME, read_records
from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinKeyError,
    MushinTypeError,
    MushinValueError,
)
from mushin_nb.progress import EVENT_FILE_NAME, NullProgress, read_events
from mushin_nb.workflows import multirun

A, B = [1, 2], [10, 20]
FAILING = (2, 20)


def formula(a, b):
    """What the notebook computes, written independently of it."""
    return {"value": a * 10 + b, "square": [0, a, 2 * a], "pair": [a, b]}


def _executed(job_dir: Path) -> nbformat.NotebookNode:
    return nbformat.read(job_dir / "batch_grid.ipynb", as_version=4)


class Sink(NullProgress):
    """A progress sink that remembers which event files it was asked to follow."""

    def __init__(self):
        self.watched, self.ended = {}, {}

    def watch(self, index, event_file):
        self.watched[index] = Path(event_file)

    def job_end(self, index, status, error=None):
        self.ended[index] = status


@pytest.fixture(scope="module")
def grid(tmp_path_factory, grid_nb):
    """One 2x2 sweep whose (a=2, b=20) job fails; everything the tests read is kept here,
    because the resume test re-runs the failed job in place."""
    tmp = tmp_path_factory.mktemp("grid")
    flag, counter = tmp / "fail.flag", tmp / "counter.txt"
    flag.touch()
    params = {"a": multirun(A), "b": multirun(B), "fail_flag": str(flag),
              "counter": str(counter)}
    sink = Sink()
    wf = sweep_notebook(grid_nb, params, working_dir=tmp / "sweep", progress=sink)
    jobs = {}
    for index, (cfg, job_dir) in enumerate(zip(wf.cfgs, wf.multirun_working_dirs)):
        job_dir = Path(job_dir)
        jobs[(cfg["a"], cfg["b"])] = SimpleNamespace(
            dir=job_dir, nb=_executed(job_dir), watched=sink.watched.get(index),
            ended=sink.ended.get(index),
            mtime=(job_dir / "batch_grid.ipynb").stat().st_mtime_ns,
            events=read_events(job_dir / ".mushin" / EVENT_FILE_NAME)[0])
    return SimpleNamespace(wf=wf, ds=wf.to_xarray(), jobs=jobs, flag=flag, counter=counter,
                           params=params, lines=counter.read_text().splitlines())


def test_grid_values_follow_the_notebook_formula(grid):
    ds = grid.ds
    assert ds["value"].dims == ("a", "b")
    assert ds["a"].values.tolist() == A and ds["b"].values.tolist() == B
    assert ds.attrs["fail_flag"] == str(grid.flag) and ds.attrs["counter"] == str(grid.counter)
    for a in A:
        for b in B:
            cell = ds.sel(a=a, b=b)
            if (a, b) == FAILING:
                assert np.isnan(cell["value"]) and np.isnan(cell["square"]).all()
                continue
            expected = formula(a, b)
            assert cell["value"].item() == expected["value"]
            np.testing.assert_array_equal(cell["square"], expected["square"])
            np.testing.assert_array_equal(cell["pair"], expected["pair"])
            assert cell["text"].item() == "x"  # the notebook's default, not injected


def test_each_job_keeps_its_executed_notebook_with_its_records(grid):
    for (a, b), job in grid.jobs.items():
        injected = [c for c in job.nb.cells if "injected-parameters" in c.metadata.tags]
        assert len(injected) == 1 and f"a = {a}\n" in injected[0].source
        assert job.nb.metadata.papermill.parameters["b"] == b
        if (a, b) == FAILING:
            continue
        records = read_records(job.nb)
        assert records["value"] == formula(a, b)["value"]
        np.testing.assert_array_equal(records["square"], formula(a, b)["square"])
        bundles = [o.data for c in job.nb.cells for o in c.get("outputs", [])
                   if RECORD_MIME in o.get("data", {})]
        # shown as text in Jupyter, machine-readable for the batch job
        assert bundles[0]["text/plain"].startswith(f"value = {a * 10 + b}\n")


def test_a_failed_job_names_the_cell_and_the_exception(grid, grid_nb):
    (failure,) = grid.wf.failures
    assert (failure.overrides["a"], failure.overrides["b"]) == FAILING
    assert failure.error.startswith(
        "MushinRuntimeError: notebook batch_grid.ipynb failed in cell 3 (In [")
    assert "ValueError: boom at a=2" in failure.error
    # the index is the one the user sees in the source notebook
    assert "raise ValueError" in nbformat.read(grid_nb, as_version=4).cells[3].source
    job = grid.jobs[FAILING]
    assert str(job.dir / "batch_grid.ipynb") in failure.error
    errors = [o for c in job.nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert [(e.ename, e.evalue) for e in errors] == [("ValueError", "boom at a=2")]
    # the cell's own traceback is in the job's traceback file
    assert "----> 2     raise ValueError" in failure.traceback_path.read_text()


def test_report_in_the_notebook_reaches_the_event_file(grid):
    for (a, b), job in grid.jobs.items():
        # the kernel is another process: the in-process sweep's display follows its file
        assert job.watched == job.dir / ".mushin" / EVENT_FILE_NAME
        assert job.ended == ("failed" if (a, b) == FAILING else "done")
        reports = [e for e in job.events if e["event"] == "report"]
        if (a, b) == FAILING:
            assert reports == []
        else:
            assert [r["metrics"] for r in reports] == [{"value": float(a * 10 + b)}]


def test_resume_reruns_only_the_failed_job(grid, grid_nb):
    assert sorted(grid.lines) == sorted(f"{a},{b}" for a in A for b in B)
    grid.flag.unlink()
    ds = run_notebook(grid_nb, grid.params, working_dir=grid.wf.working_dir, progress=False)
    assert grid.counter.read_text().splitlines() == [*grid.lines, "2,20"]
    for key, job in grid.jobs.items():
        mtime = (job.dir / "batch_grid.ipynb").stat().st_mtime_ns
        assert (mtime != job.mtime) == (key == FAILING)
    np.testing.assert_array_equal(ds["value"], [[formula(a, b)["value"] for b in B] for a in A])


def test_jobs_run_in_parallel_processes(tmp_path, grid_nb):
    # each notebook waits at a barrier until both are inside: run one after the other,
    # they would each time out alone and record at_once == 1
    ds = run_notebook(grid_nb, {"a": multirun(A), "barrier": str(tmp_path / "barrier")},
                      working_dir=tmp_path / "sweep", jobs=2, progress=False)
    assert ds["at_once"].values.tolist() == [2, 2]
    assert len(os.listdir(tmp_path / "barrier")) == 2  # two kernel processes (pid files)
    # started by threads of this process: no launcher worker processes in between
    assert ds["kernel_parent"].values.tolist() == [os.getpid()] * 2
    assert ds["value"].values.tolist() == [formula(a, 10)["value"] for a in A]
    for k in range(2):
        assert (tmp_path / "sweep" / str(k) / "batch_grid.ipynb").is_file()


def test_jobs_with_the_joblib_launcher_run_in_worker_processes(tmp_path, grid_nb):
    ds = run_notebook(grid_nb, {"a": multirun(A), "barrier": str(tmp_path / "barrier")},
                      working_dir=tmp_path / "sweep", jobs=2, launcher="joblib",
                      progress=False)
    assert ds["at_once"].values.tolist() == [2, 2]
    parents = ds["kernel_parent"].values.tolist()
    assert len(set(parents)) == 2 and os.getpid() not in parents  # two worker processes
    assert ds["value"].values.tolist() == [formula(a, 10)["value"] for a in A]


def test_unknown_parameter_is_refused_with_the_known_names(grid_nb, tmp_path):
    with pytest.raises(MushinKeyError, match=r"`parameters` names 'lr', which the notebook's "
                       r"'parameters' cell does not assign; it assigns \['a', 'b', 'label', "
                       r"'fail_flag', 'counter', 'barrier', 'parties'\]"):
        run_notebook(grid_nb, {"a": multirun(A), "lr": 0.1}, working_dir=tmp_path / "s")
    assert not (tmp_path / "s").exists()  # refused before anything ran


def test_unknown_parameter_warns_and_is_injected_when_not_strict(grid_nb, tmp_path):
    with pytest.warns(UserWarning, match=r"names 'extra'.*injected anyway") as caught:
        ds = run_notebook(grid_nb, {"extra": 5}, working_dir=tmp_path / "s", strict=False,
                          progress=False)
    assert caught[0].filename == __file__  # points at the caller
    assert ds["value"].item() == formula(1, 10)["value"] and ds.attrs["extra"] == 5
    (job_dir,) = [p for p in (tmp_path / "s").iterdir() if p.is_dir()]
    injected = [c for c in _executed(job_dir).cells if "injected-parameters" in c.metadata.tags]
    assert "extra = 5" in injected[0].source


CODE = ["1); import os; os.system('touch pwned'); (",
        '"; import os; os.system("touch pwned2"); "\\',
        "'''\nimport os\nos.system('touch pwned3')\n'''"]


def test_code_in_a_value_arrives_as_the_string(grid_nb, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ds = run_notebook(grid_nb, {"label": multirun(CODE[:2]), "fail_flag": CODE[2]},
                      working_dir=tmp_path / "s", progress=False, strict=True)
    assert ds["text"].dims == ("label",)
    assert ds["text"].values.tolist() == CODE[:2]  # recorded by the notebook, byte for byte
    assert ds["label"].values.tolist() == CODE[:2]
    assert ds.attrs["fail_flag"] == CODE[2]
    assert list(tmp_path.rglob("pwned*")) == []


@pytest.mark.parametrize("name", ["a=1\nimport os", "__import__('os')", "a; b", "for", ""])
def test_code_in_a_name_is_refused(grid_nb, name):
    with pytest.raises(MushinValueError, match=r"`parameters` must be keyed by Python "
                                               r"identifiers"):
        run_notebook(grid_nb, {name: 1})


def test_interpolation_syntax_arrives_as_text(grid_nb, tmp_path):
    # Hydra's configs resolve ${...}; a notebook parameter must not
    ds = run_notebook(grid_nb, {"label": "${oc.env:HOME}"}, working_dir=tmp_path / "s",
                      progress=False)
    assert ds["text"].item() == "${oc.env:HOME}"


def test_a_cell_past_the_timeout_fails_its_job(grid_nb, tmp_path):
    # alone at a barrier for two, the notebook would wait 60 s
    wf = sweep_notebook(grid_nb, {"barrier": str(tmp_path / "barrier")}, timeout=2,
                        working_dir=tmp_path / "s", progress=False)
    (failure,) = wf.failures
    assert "notebook batch_grid.ipynb stopped: CellTimeoutError" in failure.error
    assert (failure.job_dir / "batch_grid.ipynb").exists()


def _no_parameters_cell(tmp_path):
    path = tmp_path / "plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a = 1")]), path)
    return path


@pytest.mark.parametrize(
    ("kwargs", "cls", "match"),
    [
        ({"path": "missing.ipynb"}, MushinFileNotFoundError,
         r"`path` must be an existing notebook file, got 'missing.ipynb'"),
        ({"path": "notes.txt"}, MushinValueError, r"`path` must be a Jupyter notebook \(.ipynb"),
        ({"path": 3}, MushinTypeError, r"`path` must be a path to a .ipynb file, got 3"),
        ({"parameters": [("a", 1)]}, MushinTypeError,
         r"`parameters` must be a dict of name -> value or multirun"),
        ({"parameters": {"a": multirun([])}}, MushinValueError,
         r"`parameters\['a'\]` must be a non-empty multirun"),
        ({"parameters": {"a": None}}, MushinValueError,
         r"`parameters\['a'\]` must be a value other than None.*Fix: omit the parameter"),
        ({"parameters": {"a": multirun([1, object()])}}, MushinTypeError,
         r"`parameters\['a'\]\[1\]` must be a literal"),
        ({"parameters": {"a": lambda: 1}}, MushinTypeError, r"`parameters\['a'\]` must be a "
                                                            r"literal.*never code"),
        ({"jobs": 0}, MushinValueError, r"`jobs` must be an int >= 1, got 0"),
        ({"jobs": "2"}, MushinTypeError, r"`jobs` must be an int >= 1, got '2'"),
        ({"jobs": 2, "launcher": "submitit_local"}, MushinValueError,
         r"`jobs` must be 1 when launcher='submitit_local' is given"),
        ({"timeout": 0}, MushinValueError, r"`timeout` must be None or a positive number"),
        ({"launcher": 3}, MushinTypeError, r"`launcher` must be None or a Hydra launcher"),
        ({"kernel_name": "no-such-kernel"}, MushinValueError,
         r"`kernel_name` must be an installed Jupyter kernel.*Fix: use one of \[.*'python3'"),
    ],
)
def test_bad_arguments_are_refused_before_running(grid_nb, tmp_path, kwargs, cls, match):
    call = {"path": grid_nb, "parameters": {"a": multirun(A)}, **kwargs}
    with pytest.raises(cls, match=match):
        run_notebook(call.pop("path"), call.pop("parameters"), working_dir=tmp_path / "s",
                     **call)
    assert not (tmp_path / "s").exists()


def test_a_notebook_without_parameters_cell_is_refused(tmp_path):
    with pytest.raises(MushinValueError, match=r"tagged 'parameters'.*plain.ipynb"):
        run_notebook(_no_parameters_cell(tmp_path), {"a": 1})


def test_public_names():
    assert mushin_nb.run_notebook is run_notebook


@pytest.mark.parametrize(
    ("jobs", "launcher", "expected"),
    [
        (1, None, (None, [], 1)),  # in-process
        (3, None, (None, [], 3)),  # in-process, three jobs at once in threads
        (3, "joblib", ("joblib", ["hydra.launcher.n_jobs=3"], 1)),
        (1, "joblib", ("joblib", ["hydra.launcher.n_jobs=1"], 1)),  # not joblib's all-cores
        (1, "submitit_local", ("submitit_local", [], 1)),
    ],
)
def test_jobs_become_threads_or_joblib_processes(jobs, launcher, expected):
    assert _check_options(jobs, None, launcher) == expected


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"nbformat": 3, "worksheets": []}'])
def test_a_file_that_is_not_a_notebook_is_refused(tmp_path, content):
    path = tmp_path / "broken.ipynb"
    path.write_text(content)
    with pytest.raises(MushinValueError, match=r"`path` must be a readable Jupyter notebook "
                                               r"\(nbformat 4\).*Fix: open and re-save it"):
        run_notebook(path, {"a": 1})
