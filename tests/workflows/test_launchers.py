"""Hydra launcher plugins (joblib, submitit_local, basic) with records, resume, failures."""

import json
import os
import sys

import cloudpickle
import numpy as np
import pytest
import xarray as xr

from mushin_nb.workflows import MultiRunMetricsWorkflow, multirun, sweep


@pytest.fixture(autouse=True)
def picklable_tasks():
    # worker processes cannot import a test module: ship its functions by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def task(x, seed, root):
    from mushin_nb.progress import report

    with open(os.path.join(root, f"{x}-{seed}"), "a") as fh:
        fh.write(f"{os.getpid()}\n")
    report(step=1, total=1, half=x / 2)
    if x == 2 and seed == 1:
        raise RuntimeError("bad combination")
    return {"v": x * 10 + seed, "pid": os.getpid(), "cwd": os.getcwd(),
            "arr": np.full(2, float(x))}


class Events:
    """A progress sink that records what it is told (watch: event files)."""

    def __init__(self):
        self.calls = []

    def start(self, labels, title=""):
        self.calls.append(("start", len(labels)))

    def job_start(self, i):
        self.calls.append(("job_start", i))

    def job_report(self, i, step, total, metrics):
        self.calls.append(("report", i))

    def job_end(self, i, status, error=None):
        self.calls.append(("end", i, status))

    def watch(self, i, path):
        self.calls.append(("watch", i, path))

    def close(self, ok=True):
        self.calls.append(("close", ok))


def _check(wf, root, ran):
    ds = wf.to_xarray()
    assert ds.v.values[0, :2].tolist() == [10, 11] and ds.v.values[1, 0] == 20
    assert np.isnan(ds.v.values[1, 1]) and np.isnan(ds.arr.values[1, 1]).all()
    (failure,) = wf.failures
    assert failure.overrides["x"] == 2 and failure.overrides["seed"] == 1
    assert failure.error == "RuntimeError: bad combination"
    assert "bad combination" in failure.traceback_path.read_text()
    for job_dir, cwd in zip(wf.multirun_working_dirs, wf.metrics["cwd"]):
        if isinstance(cwd, str):
            assert cwd == str(job_dir)
    counts = {p.name: len(p.read_text().split()) for p in root.iterdir()}
    assert counts == ran
    return ds


@pytest.mark.timeout(300)
def test_joblib_runs_jobs_in_worker_processes_and_resumes(in_tmp):
    root = in_tmp / "runs"
    root.mkdir()
    sink = Events()
    params = {"x": multirun([1, 2]), "seed": multirun([0, 1]), "root": str(root)}
    wf = sweep(task, params, launcher="joblib", overrides=["hydra.launcher.n_jobs=2"],
               working_dir="jl", progress=sink)
    _check(wf, root, {"1-0": 1, "1-1": 1, "2-0": 1, "2-1": 1})
    assert os.getpid() not in {p for p in wf.metrics["pid"] if not np.isnan(p)}
    assert [c[1] for c in sink.calls if c[0] == "watch"] == [0, 1, 2, 3]
    assert sorted(c[1:] for c in sink.calls if c[0] == "end") == [
        (0, "done"), (1, "done"), (2, "done"), (3, "failed")]
    events = (wf.multirun_working_dirs[0] / ".mushin" / "events.jsonl").read_text()
    assert [json.loads(line)["event"] for line in events.splitlines()] == [
        "start", "report", "end"]
    # resume: only the failed job and the new grid points run again
    params["seed"] = multirun([0, 1, 2])
    wf = sweep(task, params, launcher="joblib", overrides=["hydra.launcher.n_jobs=2"],
               working_dir="jl", progress=False)
    ds = _check(wf, root, {"1-0": 1, "1-1": 1, "2-0": 1, "2-1": 2, "1-2": 1, "2-2": 1})
    assert ds.v.values[:, 2].tolist() == [12, 22]


@pytest.mark.timeout(300)
def test_submitit_local_records_results_in_the_job_process(in_tmp):
    root = in_tmp / "runs"
    root.mkdir()
    params = {"x": multirun([1, 2]), "seed": multirun([1]), "root": str(root)}
    wf = sweep(task, params, launcher="submitit_local",
               overrides=["hydra.launcher.timeout_min=5"], working_dir="sl", progress=False)
    ds = wf.to_xarray()
    assert ds.v.values.ravel()[0] == 11 and np.isnan(ds.v.values.ravel()[1])
    assert wf.failures[0].error == "RuntimeError: bad combination"
    record = json.loads((wf.multirun_working_dirs[0] / ".mushin" / "record.json").read_text())
    assert record["return_value"]["pid"] != os.getpid()  # written by the job's process
    # resume: nothing left but the failure, which runs again (and fails again)
    wf = sweep(task, params, launcher="submitit_local", working_dir="sl", progress=False)
    assert {p.name: len(p.read_text().split()) for p in root.iterdir()} == {"1-1": 1, "2-1": 2}
    xr.testing.assert_identical(wf.to_xarray().drop_vars("pid"), ds.drop_vars("pid"))


def test_hydra_basic_launcher_gives_the_same_results_as_ours(in_tmp):
    class Flow(MultiRunMetricsWorkflow):
        @staticmethod
        def task(a, b):
            return {"s": a * b, "v": np.arange(3) * a}

    ours, basic = Flow(), Flow()
    ours.run(a=multirun([1, 2]), b=multirun([0.5, 2.0]), working_dir="ours", progress=False)
    basic.run(a=multirun([1, 2]), b=multirun([0.5, 2.0]), working_dir="basic",
              launcher="basic", progress=False)
    xr.testing.assert_identical(ours.to_xarray(), basic.to_xarray())
    assert [str(c) for c in ours.cfgs] == [str(c) for c in basic.cfgs]
