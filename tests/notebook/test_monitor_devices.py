"""The SweepMonitor's job detail names the devices each job saw (from its record)."""

from mushin_nb.notebook.widgets import SweepMonitor
from mushin_nb.workflows import multirun, sweep


def test_a_sweep_tells_the_monitor_each_jobs_devices(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    mon = SweepMonitor(display=False)
    sweep(lambda x: {"y": x}, {"x": multirun([1, 2])}, working_dir=tmp_path / "wd",
          progress=mon, gpus_per_job=2)
    mon.flush()
    assert mon.devices == {"0": "gpu:2, gpu:3", "1": "gpu:2, gpu:3"}
    assert "mnb-devices" in mon._esm and "change:devices" in mon._esm


def test_devices_are_kept_per_sweep():
    mon = SweepMonitor(display=False)
    mon.start(["a", "b"])
    mon.job_end(0, "done")
    mon.job_devices(0, ["gpu:0"])
    mon.flush()
    assert mon.devices == {"0": "gpu:0"}
    mon.start(["c"])  # a new sweep starts with none
    mon.flush()
    assert mon.devices == {}
