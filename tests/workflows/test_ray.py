"""launcher="ray" on Ray's logical GPUs: one job per GPU, records name the GPU, resume
after the driver is SIGKILLed, a failing job isolated.  One sweep (killed, then resumed)
serves the whole module: Ray's start costs seconds."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mushin_nb.workflows import load_from_dir

pytest.importorskip("ray")
pytest.importorskip("hydra_plugins.hydra_ray_launcher")

pytestmark = pytest.mark.slow

DRIVER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from mushin_nb.workflows import multirun, sweep

    root = Path(sys.argv[1])

    def task(x):
        with open(root / "runs" / str(x), "a") as fh:
            fh.write(f"{os.getpid()} {os.environ.get('CUDA_VISIBLE_DEVICES')}\\n")
        if x == 6:
            raise RuntimeError("job six always fails")
        time.sleep(1.0)
        return {"y": 2 * x}

    sweep(task, {"x": multirun(list(range(7)))}, working_dir=root / "wd", launcher="ray",
          gpus_per_job=1, progress=False,
          overrides=["hydra.launcher.ray.init.num_gpus=2",
                     "hydra.launcher.ray.init.num_cpus=2"])
""")


def _driver(root: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, str(root / "driver.py"), str(root)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _records(wd: Path) -> dict[int, dict]:
    out = {}
    for path in wd.glob("*/.mushin/record.json"):
        record = json.loads(path.read_text())
        out[record["num"]] = record
    return out


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray")
    (root / "runs").mkdir()
    (root / "driver.py").write_text(DRIVER)
    first = _driver(root)
    deadline = time.time() + 240
    while time.time() < deadline and first.poll() is None:
        if sum(r["status"] == "done" for r in _records(root / "wd").values()) >= 2:
            break
        time.sleep(0.05)
    assert first.poll() is None, first.communicate()[1][-3000:]
    done_before = {n for n, r in _records(root / "wd").items() if r["status"] == "done"}
    os.killpg(first.pid, signal.SIGKILL)  # the driver and the Ray it started die at once
    first.wait()
    second = _driver(root)
    _, err = second.communicate(timeout=400)
    assert second.returncode == 0, err[-3000:]
    return root, done_before


def _num_of(root: Path, x: int) -> int:
    return next(n for n, r in _records(root / "wd").items() if r["overrides"] == [f"+x={x}"])


def test_each_job_saw_one_gpu_and_no_gpu_was_shared_at_once(swept):
    root, _ = swept
    records = [r for r in _records(root / "wd").values() if r["status"] == "done"]
    assert len(records) == 6
    for r in records:
        assert len(r["devices"]) == 1 and r["devices"][0] in ("gpu:0", "gpu:1")
    spans = sorted((r["started"], r["finished"], r["devices"][0]) for r in records)
    for i, (_, end, gpu) in enumerate(spans):
        overlapping = [s for s in spans[i + 1:] if s[0] < end]
        assert len(overlapping) <= 1  # two at a time, never three
        assert all(s[2] != gpu for s in overlapping)  # never the same GPU at once
    assert any(a[1] > b[0] for a, b in zip(spans, spans[1:]))  # two did run at once


def test_resume_after_sigkill_reruns_only_unfinished_jobs(swept):
    root, done_before = swept
    assert len(done_before) >= 2
    for x in range(7):
        lines = (root / "runs" / str(x)).read_text().splitlines()
        if x in done_before:
            assert len(lines) == 1  # finished before the kill: not run again
        else:
            assert 1 <= len(lines) <= 2
    assert not list((root / "wd").glob("*/.mushin/lease.json"))


def test_a_failing_job_is_isolated_and_the_dataset_is_whole(swept):
    root, _ = swept
    wf = load_from_dir(root / "wd")
    ds = wf.to_xarray()
    y = ds.y.sel(x=list(range(7))).values
    np.testing.assert_array_equal(y[:6], [0, 2, 4, 6, 8, 10])
    assert np.isnan(y[6])
    assert len(wf.failures) == 1 and wf.failures[0].num == _num_of(root, 6)
    assert "job six always fails" in str(wf.failures[0])


JOINED = textwrap.dedent("""
    import sys
    from pathlib import Path
    import ray
    from mushin_nb.errors import MushinValueError
    from mushin_nb.workflows import multirun, sweep

    root = Path(sys.argv[1])
    ray.init(num_cpus=1, num_gpus=1, include_dashboard=False)  # the caller's own Ray
    try:
        sweep(lambda x: {"y": x}, {"x": multirun([1, 2])}, working_dir=root / "wd",
              launcher="ray", gpus_per_job=2, progress=False)
    except MushinValueError as exc:
        print("refused:", exc)
    print("still up:", ray.is_initialized(), "written:", (root / "wd").exists())
""")


def test_a_running_ray_with_fewer_gpus_than_a_job_asks_is_refused_before_any_job(tmp_path):
    (tmp_path / "joined.py").write_text(JOINED)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, str(tmp_path / "joined.py"), str(tmp_path)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "refused: `gpus_per_job` asks 2 GPUs per job but the Ray cluster has 1" in out.stdout
    assert "still up: True written: False" in out.stdout  # its Ray left running, nothing on disk
