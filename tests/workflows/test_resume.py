"""Persisted job records: reload with no task code, resume, re-run only what is missing."""

import json
import subprocess
import sys

import numpy as np
import xarray as xr

from mushin_nb.workflows import MultiRunMetricsWorkflow, load_from_dir, multirun, sweep


def test_adding_seeds_runs_only_the_new_jobs(in_tmp, mark, counts):
    def task(lr, seed, root):
        mark(root, f"{lr}-{seed}")
        return {"score": lr * 100 + seed}

    first = sweep(task, {"lr": multirun([0.1, 0.2]), "seed": multirun([0, 1]),
                         "root": str(in_tmp)}, working_dir="sw", progress=False)
    assert set(counts(in_tmp).values()) == {1} and len(counts(in_tmp)) == 4
    second = sweep(task, {"lr": multirun([0.1, 0.2]), "seed": multirun([0, 1, 2, 3]),
                          "root": str(in_tmp)}, working_dir="sw", progress=False)
    runs = counts(in_tmp)
    assert len(runs) == 8 and set(runs.values()) == {1}  # old jobs were not run again
    assert second.working_dir == first.working_dir
    ds = second.to_xarray()
    lr, seed = np.meshgrid([0.1, 0.2], [0, 1, 2, 3], indexing="ij")
    np.testing.assert_allclose(ds.score.values, lr * 100 + seed)
    assert [job.ran for job in second._sweep.jobs] == [False, False, True, True] * 2
    # new grid points got new job numbers; old job dirs kept theirs
    nums = sorted(int(p.name) for p in second.multirun_working_dirs)
    assert nums == list(range(8))


def test_failed_jobs_run_again_and_resume_false_runs_everything(in_tmp, mark, counts):
    flaky = in_tmp / "flaky"
    flaky.write_text("fail")

    def task(i, root, flag):
        mark(root, str(i))
        if i == 1 and open(flag).read() == "fail":
            raise RuntimeError("flaky")
        return {"v": i * 2}

    params = {"i": multirun([0, 1, 2]), "root": str(in_tmp), "flag": str(flaky)}
    wf = sweep(task, params, working_dir="sw", progress=False)
    assert len(wf.failures) == 1
    flaky.write_text("ok")
    wf = sweep(task, params, working_dir="sw", progress=False)
    assert wf.failures == [] and counts(in_tmp) == {"0": 1, "1": 2, "2": 1}
    assert wf.to_xarray().v.values.tolist() == [0, 2, 4]
    wf = sweep(task, params, working_dir="sw", resume=False, progress=False)
    assert counts(in_tmp) == {"0": 2, "1": 3, "2": 2}


def test_reload_needs_no_task_code(in_tmp):
    def task(lr, seed, tag):
        return {"acc": lr + seed / 10, "hist": np.arange(4) * seed, "name": f"{tag}{seed}"}

    wf = sweep(task, {"lr": multirun([0.5, 0.25]), "seed": multirun([0, 1, 2]), "tag": "s"},
               working_dir="sw", progress=False)
    expected = wf.to_xarray()
    # a fresh interpreter that never saw `task`
    code = ("import sys; from mushin_nb.workflows import load_from_dir; "
            "from mushin_nb.results import save_netcdf; "
            "save_netcdf(load_from_dir(sys.argv[1]).to_xarray(), sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(wf.working_dir), "out.nc"], check=True)
    from mushin_nb.results import load_results

    xr.testing.assert_identical(load_results(in_tmp / "out.nc"), expected)
    loaded = load_from_dir(wf.working_dir)
    xr.testing.assert_identical(loaded.to_xarray(), expected)
    assert loaded.cfgs[4] == {"lr": 0.25, "seed": 1, "tag": "s"}
    assert loaded.jobs[4].return_value["name"] == "s1"
    assert [j.working_dir for j in loaded.jobs] == [str(d) for d in wf.multirun_working_dirs]


def test_records_hold_status_timing_and_errors(in_tmp):
    def task(i):
        if i:
            raise ZeroDivisionError("bad i")
        return {"v": np.float32(1.5), "a": np.array([[1, 2]], dtype=np.int16)}

    wf = sweep(task, {"i": multirun([0, 1])}, working_dir="sw", progress=False)
    ok = json.loads((wf.multirun_working_dirs[0] / ".mushin" / "record.json").read_text())
    bad = json.loads((wf.multirun_working_dirs[1] / ".mushin" / "record.json").read_text())
    assert ok["status"] == "done" and ok["overrides"] == ["+i=0"] and ok["num"] == 0
    assert ok["finished"] >= ok["started"] and ok["duration_s"] >= 0
    assert ok["return_value"]["v"] == 1.5
    assert ok["return_value"]["a"] == {"__ndarray__": [[1, 2]], "dtype": "int16",
                                       "shape": [1, 2]}
    assert bad["status"] == "failed" and bad["error_type"] == "ZeroDivisionError"
    assert bad["error_message"] == "bad i" and "ZeroDivisionError: bad i" in bad["traceback"]
    loaded = load_from_dir("sw")
    assert loaded.metrics["a"][0].dtype == np.int16
    assert [str(f) for f in loaded.failures] == [str(f) for f in wf.failures]


def test_a_shrunk_grid_reuses_jobs_and_ignores_the_rest(in_tmp, mark, counts):
    def task(x, root):
        mark(root, str(x))
        return {"v": x}

    sweep(task, {"x": multirun([1, 2, 3]), "root": str(in_tmp)}, working_dir="sw",
          progress=False)
    wf = sweep(task, {"x": multirun([3, 1]), "root": str(in_tmp)}, working_dir="sw",
               progress=False)
    assert counts(in_tmp) == {"1": 1, "2": 1, "3": 1}
    assert wf.to_xarray().v.values.tolist() == [3, 1]
    assert load_from_dir("sw").to_xarray().x.values.tolist() == [3, 1]


def test_class_workflow_resumes_too(in_tmp, mark, counts):
    class Flow(MultiRunMetricsWorkflow):
        @staticmethod
        def task(a, root):
            mark(root, str(a))
            return {"b": a + 1}

    Flow().run(a=multirun([1, 2]), root=str(in_tmp), working_dir="flow", progress=False)
    wf = Flow()
    wf.run(a=multirun([1, 2, 3]), root=str(in_tmp), working_dir="flow", progress=False)
    assert counts(in_tmp) == {"1": 1, "2": 1, "3": 1}
    assert wf.to_xarray().b.values.tolist() == [2, 3, 4]
    assert wf.jobs[0].return_value == {"b": 2}
