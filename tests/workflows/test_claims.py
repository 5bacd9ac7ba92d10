"""One runner per job: two runners over one working dir run each job once, a dead one's
jobs are taken over (pid gone here, or no heartbeat for the lease time)."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from mushin_nb.workflows import multirun, sweep
from mushin_nb.workflows._claims import LEASE_ENV, Claims, read_lease
from mushin_nb.workflows._store import write_text_atomic

RUNNER = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from mushin_nb.workflows import multirun, sweep

    root = Path(sys.argv[1])

    def task(x):
        with open(root / "runs" / str(x), "a") as fh:  # one line per execution
            fh.write(f"{os.getpid()}\\n")
        time.sleep(0.05)
        return {"y": x * 3}

    wf = sweep(task, {"x": multirun(list(range(30)))}, working_dir=root / "wd",
               progress=False)
    ds = wf.to_xarray()
    (root / f"out-{sys.argv[2]}.json").write_text(json.dumps(ds.y.values.tolist()))
""")


def _start(root: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, str(root / "runner.py"), str(root), name],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def _executions(root: Path) -> dict[int, int]:
    return {int(p.name): len(p.read_text().splitlines()) for p in (root / "runs").iterdir()}


@pytest.fixture
def root(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runner.py").write_text(RUNNER)
    return tmp_path


@pytest.mark.timeout(240)
def test_two_runners_run_each_job_once_and_both_end_with_the_whole_dataset(root):
    first = _start(root, "a")
    time.sleep(0.3)
    second = _start(root, "b")
    for proc in (first, second):
        _, err = proc.communicate(timeout=200)
        assert proc.returncode == 0, err
    assert _executions(root) == {x: 1 for x in range(30)}
    expected = [3 * x for x in range(30)]
    for name in "ab":
        assert json.loads((root / f"out-{name}.json").read_text()) == expected
    pids = {line for p in (root / "runs").iterdir() for line in p.read_text().split()}
    assert len(pids) == 2  # both runners did part of the work
    assert not list((root / "wd").glob("*/.mushin/lease.json*"))  # every lease released


@pytest.mark.timeout(240)
def test_a_killed_runners_claims_are_taken_over_by_the_other(root):
    first = _start(root, "a")
    deadline = time.time() + 120
    while len(list((root / "runs").iterdir())) < 8 and time.time() < deadline:
        time.sleep(0.02)
    second = _start(root, "b")
    time.sleep(0.3)
    first.send_signal(signal.SIGKILL)
    first.wait()
    _, err = second.communicate(timeout=200)
    assert second.returncode == 0, err
    assert json.loads((root / "out-b.json").read_text()) == [3 * x for x in range(30)]
    runs = _executions(root)
    assert set(runs) == set(range(30))
    # only a job the killed runner was running when it died can have run twice
    assert sum(n - 1 for n in runs.values()) <= 1


def test_a_lease_from_another_host_is_waited_for_then_taken_over_after_it_expires(
        tmp_path, monkeypatch):
    monkeypatch.setenv(LEASE_ENV, "1.5")
    params = {"x": multirun([0, 1, 2])}
    wd = tmp_path / "wd"
    sweep(lambda x: {"y": x}, params, working_dir=wd, progress=False)
    # job 1 failed last time and a runner on another machine has claimed it since
    record = json.loads((wd / "1/.mushin/record.json").read_text())
    (wd / "1/.mushin/record.json").write_text(json.dumps({**record, "status": "failed"}))
    lease = {"host": "another-host", "pid": 1, "runner": "r2", "heartbeat": time.time(),
             "started": time.time(), "num": 1, "overrides": ["+x=1"]}
    (wd / "1/.mushin/lease.json").write_text(json.dumps(lease))
    ran = []
    started = time.monotonic()
    wf = sweep(lambda x: ran.append(x) or {"y": 10 * x}, params, working_dir=wd,
               progress=False)
    waited = time.monotonic() - started
    assert ran == [1] and waited >= 1.5
    assert wf.to_xarray().y.values.tolist() == [0, 10, 2]
    assert read_lease(wd / "1") is None


def test_a_live_lease_from_another_host_is_waited_for_and_its_record_used(tmp_path):
    params = {"x": multirun([0, 1])}
    wd = tmp_path / "wd"
    sweep(lambda x: {"y": x}, params, working_dir=wd, progress=False)
    record_path = wd / "1/.mushin/record.json"
    record = json.loads(record_path.read_text())
    record_path.write_text(json.dumps({**record, "status": "failed"}))
    with Claims() as other:  # another runner (same process here) holds job 1
        assert other.claim(wd / "1")

        def finish():
            time.sleep(0.5)
            record_path.write_text(json.dumps({**record, "return_value": {"y": 7}}))
            other.release(wd / "1")

        thread = threading.Thread(target=finish)
        thread.start()
        ran = []
        wf = sweep(lambda x: ran.append(x) or {"y": 100}, params, working_dir=wd,
                   progress=False)
        thread.join()
    assert ran == []
    assert wf.to_xarray().y.values.tolist() == [0, 7]


def _remote_lease(wd, heartbeat):
    """Job 1 of a finished 2-job sweep in ``wd``, failed last time and claimed since by a
    runner on another host; returns the record's path and the record."""
    sweep(lambda x: {"y": x}, {"x": multirun([0, 1])}, working_dir=wd, progress=False)
    record_path = wd / "1/.mushin/record.json"
    record = json.loads(record_path.read_text())
    record_path.write_text(json.dumps({**record, "status": "failed"}))
    lease = {"host": "another-host", "pid": 1, "runner": "r2", "heartbeat": heartbeat,
             "started": heartbeat, "num": 1, "overrides": ["+x=1"]}
    (wd / "1/.mushin/lease.json").write_text(json.dumps(lease))
    return record_path, record, lease


@pytest.mark.timeout(60)
def test_a_dead_lease_from_a_host_whose_clock_runs_ahead_is_taken_over(tmp_path, monkeypatch):
    # its last heartbeat reads an hour from now here: it is the heartbeat that no longer
    # changes, watched on this host's clock, that says the runner is gone
    monkeypatch.setenv(LEASE_ENV, "1")
    wd = tmp_path / "wd"
    _remote_lease(wd, time.time() + 3600)
    ran = []
    started = time.monotonic()
    wf = sweep(lambda x: ran.append(x) or {"y": 10 * x}, {"x": multirun([0, 1])},
               working_dir=wd, progress=False)
    assert ran == [1] and time.monotonic() - started >= 1
    assert wf.to_xarray().y.values.tolist() == [0, 10]


@pytest.mark.timeout(60)
def test_a_live_lease_from_a_host_whose_clock_runs_behind_is_not_taken_over(
        tmp_path, monkeypatch):
    # its heartbeats read an hour ago here, but they keep coming: the runner is alive
    monkeypatch.setenv(LEASE_ENV, "1")
    wd = tmp_path / "wd"
    record_path, record, lease = _remote_lease(wd, time.time() - 3600)
    lease_path = wd / "1/.mushin/lease.json"

    def remote_runner():  # writes whole files, as a runner's heartbeat does
        for beat in range(1, 13):  # 2.4 s of heartbeats, more than twice the lease time
            time.sleep(0.2)
            write_text_atomic(lease_path,
                              json.dumps({**lease, "heartbeat": lease["heartbeat"] + beat}))
        write_text_atomic(record_path, json.dumps({**record, "return_value": {"y": 7}}))
        lease_path.unlink()

    thread = threading.Thread(target=remote_runner)
    thread.start()
    ran = []
    wf = sweep(lambda x: ran.append(x) or {"y": 100}, {"x": multirun([0, 1])},
               working_dir=wd, progress=False)
    thread.join()
    assert ran == []
    assert wf.to_xarray().y.values.tolist() == [0, 7]


def test_only_one_of_many_takers_wins_a_stale_lease(tmp_path):
    job = tmp_path / "job"
    (job / ".mushin").mkdir(parents=True)
    dead = {"host": socket.gethostname(), "pid": 2**22 + 12345, "runner": "dead",
            "heartbeat": time.time()}
    (job / ".mushin/lease.json").write_text(json.dumps(dead))
    takers = [Claims() for _ in range(8)]
    won = []
    barrier = threading.Barrier(len(takers))

    def take(claims):
        barrier.wait()
        if claims.claim(job):
            won.append(claims.runner)

    threads = [threading.Thread(target=take, args=(c,)) for c in takers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert read_lease(job)["runner"] == won[0]
    assert sorted(p.name for p in (job / ".mushin").iterdir()) == ["lease.json"]


def test_the_heartbeat_keeps_a_lease_fresh(tmp_path):
    with Claims(ttl=0.4) as mine:
        assert mine.claim(tmp_path / "job")
        first = read_lease(tmp_path / "job")["heartbeat"]
        time.sleep(0.5)
        assert read_lease(tmp_path / "job")["heartbeat"] > first
        assert not Claims(ttl=0.4).claim(tmp_path / "job")  # alive: not taken over


def test_a_dead_takers_token_stamped_by_a_clock_ahead_does_not_block_the_job(tmp_path):
    # a taker died between its token and the take-over, on a host whose clock (or file
    # server's) runs an hour ahead: the token is aged on this host's clock, not by its mtime
    job = tmp_path / "job"
    (job / ".mushin").mkdir(parents=True)
    dead = {"host": socket.gethostname(), "pid": 2**22 + 12345, "runner": "dead",
            "heartbeat": time.time()}
    lease = job / ".mushin/lease.json"
    lease.write_text(json.dumps(dead))
    token = lease.with_name(f"lease.json.taken-dead-{dead['heartbeat']}")
    os.link(lease, token)
    ahead = time.time() + 3600
    os.utime(token, (ahead, ahead))
    claims = Claims(ttl=0.3)
    started = time.monotonic()
    while not claims.claim(job):
        assert time.monotonic() - started < 5, "the dead taker's token blocks the job"
        time.sleep(0.05)
    assert time.monotonic() - started >= 0.3  # it waited the lease time for the token
    assert read_lease(job)["runner"] == claims.runner and not token.exists()
