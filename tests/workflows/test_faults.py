"""SIGKILL a sweep at several points; resuming re-runs only unfinished jobs."""

import json
import os
import runpy
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import xarray as xr

from mushin_nb.workflows import load_from_dir, multirun, sweep

SCRIPT = textwrap.dedent("""
    import sys, time, os
    from pathlib import Path
    from mushin_nb.workflows import multirun, sweep

    def task(lr, seed, root):
        runs = Path(root) / "runs"
        runs.mkdir(exist_ok=True)
        with open(runs / f"{lr}-{seed}", "a") as fh:
            fh.write("run\\n")
        time.sleep(0.08)
        return {"score": lr * 1000 + seed, "curve": [lr * seed, seed + 0.5]}

    if __name__ == "__main__":
        working_dir, root = sys.argv[1], sys.argv[2]
        wf = sweep(task, {"lr": multirun([1, 2]), "seed": multirun(list(range(6))),
                          "root": root}, working_dir=working_dir, progress=False)
        wf.to_xarray().to_netcdf(Path(root) / "final.nc", engine="h5netcdf")
""")


def _done(working_dir: Path) -> set[str]:
    done = set()
    for record in working_dir.glob("*/.mushin/record.json"):
        data = json.loads(record.read_text())
        if data["status"] == "done":
            done.add(" ".join(data["overrides"]))
    return done


def _runs(root: Path) -> dict[str, int]:
    folder = root / "runs"
    return {p.name: len(p.read_text().splitlines()) for p in folder.iterdir()} if \
        folder.exists() else {}


def _run_until(cmd, working_dir: Path, n_done: int, timeout: float = 120) -> None:
    """Start the sweep and SIGKILL it once ``n_done`` jobs have a record (or at start)."""
    proc = subprocess.Popen(cmd)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if n_done == 0 and (working_dir / "multirun.yaml").exists():
                break
            if n_done and len(_done(working_dir)) >= n_done:
                break
            if proc.poll() is not None:
                pytest.fail("the sweep finished before it could be killed")
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.timeout(300)
def test_sigkill_then_resume_reruns_only_unfinished_jobs(tmp_path):
    script = tmp_path / "sweep_script.py"
    script.write_text(SCRIPT)
    working_dir, root = tmp_path / "sweep", tmp_path / "killed"
    root.mkdir()
    cmd = [sys.executable, str(script), str(working_dir), str(root)]
    snapshots = []  # (jobs with a record, executions so far) at each kill
    for n_done in (0, 3, 7):
        _run_until(cmd, working_dir, n_done)
        snapshots.append((_done(working_dir), _runs(root)))
        assert len(snapshots[-1][0]) >= n_done
    subprocess.run(cmd, check=True)
    runs = _runs(root)
    assert len(runs) == 12
    assert sum(runs.values()) - 12 <= 3  # at most the job in flight at each kill ran twice
    for done, runs_then in snapshots:
        for overrides in done:  # a finished job never runs again
            lr, seed = (o.split("=")[1] for o in overrides.split()[:2])
            assert runs[f"{lr}-{seed}"] == runs_then[f"{lr}-{seed}"], overrides
    # an uninterrupted run of the same sweep (here, in-process) gives the same Dataset
    task = runpy.run_path(str(script))["task"]
    fresh = sweep(task, {"lr": multirun([1, 2]), "seed": multirun(list(range(6))),
                         "root": str(root)}, working_dir=tmp_path / "fresh", progress=False)
    killed = xr.load_dataset(root / "final.nc", engine="h5netcdf")
    xr.testing.assert_identical(killed, fresh.to_xarray())
    xr.testing.assert_identical(load_from_dir(working_dir).to_xarray(), fresh.to_xarray())
