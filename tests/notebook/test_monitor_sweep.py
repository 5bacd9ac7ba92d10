"""SweepMonitor driven by the real sweep engine: in-process jobs, resume, joblib workers."""

from __future__ import annotations

import time

from mushin_nb.notebook.widgets import SweepMonitor
from mushin_nb.progress import report
from mushin_nb.workflows import multirun, sweep


def task(i):
    for step in range(1, 4):
        time.sleep(0.02)
        report(step=step, total=3, loss=1.0 / (step + i))
    if i == 1:
        raise ValueError("<bad> job")
    return {"x": i}


def test_in_process_sweep_then_resume(in_tmp):
    mon = SweepMonitor(display=False)
    wf = sweep(task, {"i": multirun([0, 1, 2])}, working_dir="w", progress=mon)
    assert len(wf.failures) == 1
    assert mon.labels == ["i=0", "i=1", "i=2"]
    assert mon.statuses == "dfd" and mon.finished and not mon.ok
    assert mon.errors["1"].endswith("ValueError: <bad> job")
    assert mon.steps == [3, 3, 3]
    assert mon.curve["loss"]["2"] == [[1, 1 / 3], [2, 1 / 4], [3, 1 / 5]]
    # a re-run over the same directory skips the done jobs and runs the failed one again
    again = SweepMonitor(display=False)
    sweep(task, {"i": multirun([0, 1, 2])}, working_dir="w", progress=again)
    assert again.statuses == "sfs" and (again.skipped, again.failed) == (2, 1)


def test_joblib_workers_are_followed_through_their_event_files(in_tmp):
    mon = SweepMonitor(display=False)
    wf = sweep(task, {"i": multirun([0, 1, 2])}, launcher="joblib",
               overrides=["hydra.launcher.n_jobs=2"], working_dir="w", progress=mon)
    assert len(wf.failures) == 1
    assert mon.statuses == "dfd" and mon.errors["1"].endswith("ValueError: <bad> job")
    # steps and the curve can only come from the workers' event files
    assert mon.steps == [3, 3, 3] and mon.totals == [3, 3, 3]
    assert mon.curve["loss"]["0"] == [[1, 1.0], [2, 1 / 2], [3, 1 / 3]]
    assert mon._poller is None  # close() stopped the poller thread
