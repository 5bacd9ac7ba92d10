"""A task that raises JobSkipped: recorded as skipped (not failed), NaN, run again next time."""

import io
import json

import numpy as np
import pytest

from mushin_nb.errors import JobSkipped, SweepFailedError
from mushin_nb.notebook.widgets import SweepMonitor
from mushin_nb.progress import TextProgress
from mushin_nb.workflows import load_from_dir, multirun, sweep


def gated(i, root, gate):
    """Skips job 1 while the gate file says "closed"; fails job 2 always."""
    from pathlib import Path

    runs = Path(root) / f"runs-{i}"
    runs.write_text(str(int(runs.read_text()) + 1 if runs.exists() else 1))
    if i == 1 and Path(gate).read_text() == "closed":
        raise JobSkipped("the gate is closed")
    if i == 2:
        raise ValueError("broken")
    return {"v": i * 10}


def runs(root):
    return {p.name: int(p.read_text()) for p in sorted(root.glob("runs-*"))}


@pytest.fixture
def params(in_tmp):
    gate = in_tmp / "gate"
    gate.write_text("closed")
    return {"i": multirun([0, 1, 2]), "root": str(in_tmp), "gate": str(gate)}


def test_a_skipped_job_is_neither_done_nor_failed(in_tmp, params, capsys):
    monitor = SweepMonitor(display=False)
    wf = sweep(gated, params, working_dir="sw", progress=monitor)
    out = capsys.readouterr().out
    assert "3 jobs" in out and "1 done" in out and "1 skipped (skipped: the gate is closed)" \
        in out and "1 failed" in out
    assert [str(f) for f in wf.failures] == [
        f"job 2 (i=2 root={params['root']} gate={params['gate']}): ValueError: broken"]
    assert len(wf.skipped) == 1 and wf.skipped[0].num == 1
    assert wf.skipped[0].error == "skipped: the gate is closed"
    assert wf.skipped[0].traceback_path is None
    values = wf.to_xarray().v.values
    assert values[0] == 0 and np.isnan(values[1]) and np.isnan(values[2])
    # the monitor shows it grey, its reason on the cell; the snapshot tells the two apart
    assert monitor.statuses == "dsf"
    assert monitor.errors == {"1": "the gate is closed", "2": "ValueError: broken"}
    snapshot = str(monitor.snapshot()).splitlines()
    assert snapshot[1:] == ["  skipped i=1: the gate is closed", "  failed i=2: ValueError: broken"]
    assert "1 skipped, 1 failed job(s)" in monitor.snapshot()._repr_html_()
    record = json.loads((wf.multirun_working_dirs[1] / ".mushin" / "record.json").read_text())
    assert record["status"] == "skipped" and record["error_message"] == "the gate is closed"


def test_a_skipped_job_runs_again_and_reloads_as_skipped(in_tmp, params):
    sweep(gated, params, working_dir="sw", progress=False)
    again = load_from_dir("sw")
    assert [f.num for f in again.skipped] == [1] and [f.num for f in again.failures] == [2]
    (in_tmp / "gate").write_text("open")
    wf = sweep(gated, params, working_dir="sw", progress=False)
    assert runs(in_tmp) == {"runs-0": 1, "runs-1": 2, "runs-2": 2}  # done job not re-run
    assert wf.skipped == [] and wf.to_xarray().v.values[1] == 10


def test_skipped_alone_does_not_raise_on_failure(in_tmp, params):
    params = {**params, "i": multirun([0, 1])}
    wf = sweep(gated, params, working_dir="sw", progress=False, raise_on_failure=True)
    assert len(wf.skipped) == 1 and wf.failures == []
    with pytest.raises(SweepFailedError):
        sweep(gated, {**params, "i": multirun([1, 2])}, working_dir="sw2", progress=False,
              raise_on_failure=True)


def test_text_progress_counts_only_failures(in_tmp, params):
    buffer = io.StringIO()
    sweep(gated, params, working_dir="sw", progress=TextProgress(file=buffer))
    text = buffer.getvalue()
    assert "failed=1" in text and "failed=2" not in text


def test_a_job_in_a_worker_process_can_skip_itself(in_tmp, params):
    monitor = SweepMonitor(display=False)
    wf = sweep(gated, params, working_dir="sw", launcher="joblib",
               overrides=["hydra.launcher.n_jobs=2"], progress=monitor)
    assert [f.num for f in wf.skipped] == [1] and [f.num for f in wf.failures] == [2]
    assert monitor.statuses == "dsf" and monitor.errors["1"] == "the gate is closed"
    assert monitor.errors["2"] == "ValueError: broken"
