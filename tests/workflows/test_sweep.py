"""sweep(): the Dataset contract (DESIGN 2), failures, job directories, Hydra's files."""

import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from hydra.core.hydra_config import HydraConfig

from mushin_nb.errors import MushinError, SweepFailedError
from mushin_nb.workflows import Failure, MultiRunMetricsWorkflow, hydra_list, multirun, sweep


def grid_task(lr, seed, epochs, tag):
    return {"score": lr * 100 + seed + epochs, "curve": np.arange(3) * lr + seed,
            "tag_len": len(tag)}


def test_dataset_contract(in_tmp):
    wf = sweep(grid_task, {"lr": multirun([0.1, 0.01]), "seed": multirun([0, 1, 2]),
                           "epochs": 5, "tag": "a b,c"}, progress=False)
    ds = wf.to_xarray()
    assert isinstance(wf, MultiRunMetricsWorkflow)
    assert list(ds.score.dims) == ["lr", "seed"]  # swept params, in the order given
    assert ds.lr.values.tolist() == [0.1, 0.01] and ds.seed.values.tolist() == [0, 1, 2]
    assert ds.attrs == {"epochs": 5, "tag": "a b,c"}  # fixed params, string kept literal
    assert list(ds.curve.dims) == ["lr", "seed", "curve_dim0"]
    lr, seed = np.meshgrid([0.1, 0.01], [0, 1, 2], indexing="ij")
    np.testing.assert_allclose(ds.score.values, lr * 100 + seed + 5)
    np.testing.assert_allclose(ds.curve.values, np.arange(3) * lr[..., None] + seed[..., None])
    assert (ds.tag_len == len("a b,c")).all()


def test_failed_jobs_are_nan_listed_and_summarised(in_tmp, quiet_summary):
    def task(x, y):
        if x == 2 and y == "b":
            raise ValueError(f"no good: {x}{y}")
        return {"v": x * 10.0, "vec": [x, x]}

    wf = sweep(task, {"x": multirun([1, 2, 3]), "y": multirun(["a", "b"])}, progress=False)
    ds = wf.to_xarray()
    assert np.isnan(ds.v.sel(x=2, y="b")) and np.isnan(ds.vec.sel(x=2, y="b")).all()
    assert int(np.isnan(ds.v).sum()) == 1
    assert ds.v.sel(x=3, y="a") == 30.0
    (failure,) = wf.failures
    assert isinstance(failure, Failure)
    assert failure.overrides == {"x": 2, "y": "b"}
    assert failure.error == "ValueError: no good: 2b"
    assert "raise ValueError" in failure.traceback_path.read_text()
    (line,) = quiet_summary()
    assert "6 jobs" in line and "5 done" in line and "1 failed" in line and "x=2 y=b" in line


def test_raise_on_failure_after_the_whole_sweep(in_tmp, mark, counts):
    def task(i, root):
        mark(root, str(i))
        if i == 0:
            raise RuntimeError("first job breaks")
        return {"value": i}

    with pytest.raises(SweepFailedError, match=r"1 of 3 jobs failed.*first job breaks") as err:
        sweep(task, {"i": multirun([0, 1, 2]), "root": str(in_tmp)}, raise_on_failure=True,
              progress=False)
    assert counts(in_tmp) == {"0": 1, "1": 1, "2": 1}  # the later jobs still ran
    assert err.value.workflow.to_xarray().value.values[1:].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("bad", [5, [1, 2], "text", (1,)])
def test_task_returning_a_non_dict_is_that_jobs_error(in_tmp, bad):
    def task(i):
        return bad if i == 1 else {"value": i}

    wf = sweep(task, {"i": multirun([0, 1])}, progress=False)
    (failure,) = wf.failures
    assert failure.overrides == {"i": 1}
    assert failure.error.startswith("MushinTypeError: job 1 (i=1) returned")
    assert "must return a dict" in failure.error
    assert wf.to_xarray().value.values.tolist()[0] == 0


def test_none_return_and_missing_metrics_are_nan(in_tmp):
    def task(i):
        return None if i == 0 else ({"a": i} if i == 1 else {"a": i, "b": -i})

    ds = sweep(task, {"i": multirun([0, 1, 2])}, progress=False).to_xarray()
    assert np.isnan(ds.a.values[0]) and ds.a.values[1:].tolist() == [1, 2]
    assert np.isnan(ds.b.values[:2]).all() and ds.b.values[2] == -2


def test_single_value_multirun_stays_a_dimension(in_tmp):
    ds = sweep(lambda seed, lr: {"v": seed + lr}, {"seed": multirun([3]), "lr": 0.5},
               progress=False).to_xarray()
    assert ds.v.dims == ("seed",) and ds.seed.values.tolist() == [3]
    assert ds.attrs == {"lr": 0.5}


def test_values_reach_the_task_unchanged(in_tmp):
    seen = []

    def task(**params):
        seen.append(params)
        return {}

    params = {"s": multirun(["1", "true", "x=y", "it's", "null", "a,b", "${x}"]),
              "layers": hydra_list([64, 32]), "opt": {"name": "adam", "betas": [0.9, 0.99]},
              "flag": False, "tiny": 1e-12, "big": 10**20, "neg": -3}
    wf = sweep(task, params, progress=False)
    assert wf.to_xarray().s.values.tolist() == ["1", "true", "x=y", "it's", "null", "a,b", "${x}"]
    assert [p["s"] for p in seen] == ["1", "true", "x=y", "it's", "null", "a,b", "${x}"]
    for p in seen:
        assert p["layers"] == [64, 32] and p["opt"] == {"name": "adam", "betas": [0.9, 0.99]}
        assert p["flag"] is False and p["tiny"] == 1e-12 and p["big"] == 10**20
        assert p["neg"] == -3


def test_numpy_values_can_be_swept(in_tmp):
    ds = sweep(lambda lr: {"v": lr * 2}, {"lr": multirun(np.linspace(0.0, 1.0, 3))},
               progress=False).to_xarray()
    np.testing.assert_allclose(ds.lr.values, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(ds.v.values, [0.0, 1.0, 2.0])


def test_jobs_run_in_their_directory_and_cwd_is_restored(in_tmp):
    def task(i):
        Path("out.txt").write_text(str(i))  # a relative path lands in the job dir
        return {"cwd": os.getcwd()}

    wf = sweep(task, {"i": multirun([0, 1])}, progress=False)
    assert os.getcwd() == str(in_tmp)
    for job_dir, cwd in zip(wf.multirun_working_dirs, wf.metrics["cwd"]):
        assert Path(cwd) == job_dir
        assert (job_dir / "out.txt").exists()
    assert not (in_tmp / "out.txt").exists()


def test_a_sweep_from_a_background_thread_leaves_the_cwd_alone(in_tmp):
    seen = []

    def task(i):
        seen.append(os.getcwd())
        time.sleep(0.05)  # the main thread looks meanwhile
        return {"v": i * 10}

    result = {}
    worker = threading.Thread(target=lambda: result.update(
        wf=sweep(task, {"i": multirun([0, 1, 2])}, progress=False)))
    worker.start()
    watched = []
    while worker.is_alive():  # what a notebook cell running meanwhile would see
        watched.append(os.getcwd())
        time.sleep(0.005)
    worker.join()
    assert seen == [str(in_tmp)] * 3 and set(watched) == {str(in_tmp)}
    wf = result["wf"]
    assert wf.to_xarray().v.values.tolist() == [0, 10, 20]
    assert all((d / ".mushin" / "record.json").exists() for d in wf.multirun_working_dirs)


def test_cwd_restored_when_a_job_raises_a_base_exception(in_tmp):
    def task(i):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(task, {"i": multirun([0, 1])}, progress=False)
    assert os.getcwd() == str(in_tmp)


def test_hydra_files_and_hydra_config_per_job(in_tmp):
    def task(i, name):
        hydra = HydraConfig.get()
        return {"num": hydra.job.num, "out": hydra.runtime.output_dir,
                "task": " ".join(hydra.overrides.task)}

    wf = sweep(task, {"i": multirun([7, 8]), "name": "n"}, progress=False)
    root = wf.working_dir
    multirun_yaml = yaml.safe_load((root / "multirun.yaml").read_text())
    assert multirun_yaml["hydra"]["overrides"]["task"] == ["+i=7,8", "+name=n"]
    for k, job_dir in enumerate(wf.multirun_working_dirs):
        assert job_dir == root / str(k)
        hydra = yaml.safe_load((job_dir / ".hydra" / "hydra.yaml").read_text())["hydra"]
        assert hydra["job"]["num"] == k and hydra["job"]["id"] == str(k)
        assert hydra["runtime"]["output_dir"] == str(job_dir)
        overrides = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text())
        assert overrides == hydra["overrides"]["task"] == [f"+i={7 + k}", "+name=n"]
        assert hydra["job"]["override_dirname"] == f"+i={7 + k},+name=n"
        assert yaml.safe_load((job_dir / ".hydra" / "config.yaml").read_text()) == {
            "i": 7 + k, "name": "n"}
    assert wf.metrics["num"] == [0, 1]
    assert wf.metrics["out"] == [str(d) for d in wf.multirun_working_dirs]
    assert wf.metrics["task"] == ["+i=7 +name=n", "+i=8 +name=n"]
    assert HydraConfig.instance().cfg is None  # the caller's Hydra state is back


def test_default_working_dirs_never_collide(in_tmp):
    dirs = {sweep(lambda i: {"v": i}, {"i": multirun([0])}, progress=False).working_dir
            for _ in range(3)}
    assert len(dirs) == 3
    for d in dirs:
        assert d.parent.parent == in_tmp / "multirun"


def test_the_callers_logging_is_left_alone(in_tmp, capsys, monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # a notebook kernel's bare root logger
    before = (root.level, list(root.handlers))

    def task(i):
        logging.getLogger("mytask").info("job %s says hi", i)
        logging.getLogger("mytask").warning("job %s warns", i)
        return {"v": i}

    wf = sweep(task, {"i": multirun([0, 1])}, progress=False)
    assert (root.level, list(root.handlers)) == before
    log = (wf.multirun_working_dirs[1] / "mushin_sweep.log").read_text()
    assert "job 1 says hi" in log and "job 1 warns" in log
    err = capsys.readouterr().err
    assert "job 1 warns" in err and "says hi" not in err  # as without the sweep


def test_a_configured_root_logger_keeps_its_level(in_tmp, monkeypatch):
    root = logging.getLogger()
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    monkeypatch.setattr(root, "handlers", [Keep()])
    monkeypatch.setattr(root, "level", logging.WARNING)

    def task(i):
        logging.getLogger("mytask").info("info %s", i)
        logging.getLogger("mytask").warning("warn %s", i)
        return {}

    sweep(task, {"i": multirun([0])}, progress=False)
    assert records == ["warn 0"] and root.level == logging.WARNING


def test_array_metrics_with_different_shapes_are_a_clear_error(in_tmp):
    wf = sweep(lambda n: {"v": np.zeros(n)}, {"n": multirun([2, 3])}, progress=False)
    with pytest.raises(MushinError, match=r"metric `v` has shape \(2,\) in job 'n=2' but "
                                          r"\(3,\) in job 'n=3'.*Fix"):
        wf.to_xarray()


def test_torch_tensors_are_stored_as_numpy(in_tmp):
    import torch

    def task(seed):
        g = torch.Generator().manual_seed(seed)
        return {"w": torch.randn(4, generator=g), "loss": torch.tensor(0.5)}

    wf = sweep(task, {"seed": multirun([0, 1])}, progress=False)
    assert isinstance(wf.metrics["w"][0], np.ndarray)
    expected = torch.randn(4, generator=torch.Generator().manual_seed(1)).numpy()
    np.testing.assert_array_equal(wf.to_xarray().w.sel(seed=1).values, expected)
    assert wf.to_xarray().loss.values.tolist() == [0.5, 0.5]


def test_progress_sink_sees_every_job(in_tmp):
    events = []

    class Sink:
        def start(self, labels, title=""):
            events.append(("start", list(labels), title))

        def job_start(self, i):
            events.append(("job_start", i))

        def job_report(self, i, step, total, metrics):
            events.append(("report", i, step, metrics))

        def job_end(self, i, status, error=None):
            events.append(("end", i, status, error))

        def watch(self, i, path):
            events.append(("watch", i))

        def close(self, ok=True):
            events.append(("close", ok))

    def task(lr, seed):
        from mushin_nb.progress import report

        report(step=1, total=2, loss=lr)
        if seed == 1:
            raise ValueError("x")
        return {"v": lr}

    sweep(task, {"lr": multirun([0.5]), "seed": multirun([0, 1])}, progress=Sink(),
          title="demo")
    assert events[0] == ("start", ["lr=0.5 seed=0", "lr=0.5 seed=1"], "demo")
    assert events[1:4] == [("job_start", 0), ("report", 0, 1, {"loss": 0.5}),
                           ("end", 0, "done", None)]
    assert events[4:7] == [("job_start", 1), ("report", 1, 1, {"loss": 0.5}),
                           ("end", 1, "failed", "ValueError: x")]
    assert events[-1] == ("close", False)


def test_sweep_with_empty_grid_of_fixed_params_is_one_job(in_tmp):
    wf = sweep(lambda a: {"a2": a * 2}, {"a": 4}, progress=False)
    ds = wf.to_xarray()
    assert ds.a2.dims == () and float(ds.a2) == 8.0 and ds.attrs == {"a": 4}


def test_netcdf_round_trip_of_a_sweep(in_tmp):
    from mushin_nb.results import load_results, save_netcdf

    wf = sweep(grid_task, {"lr": multirun([0.1, 0.01]), "seed": multirun([0, 1]),
                           "epochs": 5, "tag": "t"}, progress=False)
    ds = wf.to_xarray(include_working_subdirs_as_data_var=True)
    path = save_netcdf(ds, in_tmp / "out.nc")
    xr.testing.assert_identical(load_results(path), ds)
    xr.testing.assert_identical(load_results(wf.working_dir), wf.to_xarray())
