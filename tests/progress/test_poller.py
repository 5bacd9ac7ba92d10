"""Event files written by other processes reach the sinks; the tqdm text sink."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from mushin_nb.errors import MushinTypeError, MushinValueError
from mushin_nb.notebook.widgets import SweepMonitor
from mushin_nb.progress import EVENT_FILE_ENV, NullProgress, TextProgress
from mushin_nb.progress._poller import EventPoller, WatchMixin

# A job in another process: start line, report() through the event-file channel, end line.
WORKER = textwrap.dedent("""
    import json, os, sys, time
    from mushin_nb.progress import report
    path, fail = os.environ["MUSHIN_NB_EVENT_FILE"], sys.argv[1] == "fail"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    def emit(**event):
        with open(path, "a") as fh:
            fh.write(json.dumps({"t": time.time(), **event}) + "\\n")
    emit(event="start")
    for step in range(1, 6):
        report(step=step, total=5, loss=1.0 / step)
        time.sleep(0.1)
    if fail:
        emit(event="end", status="failed", error="Traceback\\nRuntimeError: <oom>")
    else:
        emit(event="end", status="done", error=None)
""")


class Recorder(NullProgress):
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def job_start(self, index):
        self.calls.append(("start", index))

    def job_report(self, index, step, total, metrics):
        self.calls.append(("report", index, step, total, metrics))

    def job_end(self, index, status, error=None):
        self.calls.append(("end", index, status, error))


def run_worker(event_file, mode="ok"):
    env = {**os.environ, EVENT_FILE_ENV: str(event_file)}
    return subprocess.Popen([sys.executable, "-c", WORKER, mode], env=env)


def wait_for(predicate, procs=(), timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline or any(p.poll() not in (None, 0) for p in procs):
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_poller_replays_a_subprocess_while_it_runs(tmp_path):
    sink = Recorder()
    poller = EventPoller(sink, interval=0.05)
    path = tmp_path / "job0" / ".mushin" / "events.jsonl"  # created by the worker
    poller.watch(7, path)
    proc = run_worker(path)
    try:
        # events arrive while the worker still runs, not only at the end
        wait_for(lambda: any(c[0] == "report" for c in sink.calls), [proc])
        assert not any(c[0] == "end" for c in sink.calls)
        assert proc.wait(timeout=60) == 0
    finally:
        poller.stop()
    assert sink.calls[0] == ("start", 7)
    reports = [c for c in sink.calls if c[0] == "report"]
    assert [(c[2], c[3]) for c in reports] == [(s, 5) for s in range(1, 6)]
    assert reports[1][4] == {"loss": 0.5}
    assert sink.calls[-1] == ("end", 7, "done", None)
    assert poller.watching == []


def test_monitor_follows_polled_jobs(tmp_path):
    mon = SweepMonitor(display=False, interval=0.05)
    mon.poll_interval = 0.05
    mon.start(["ok", "fails"])
    paths = [tmp_path / f"{i}.jsonl" for i in range(2)]
    for i, path in enumerate(paths):
        mon.watch(i, path)
    procs = [run_worker(paths[0]), run_worker(paths[1], "fail")]
    try:
        wait_for(lambda: "r" in mon.statuses, procs)  # the timer syncs polled events live
        assert all(p.wait(timeout=60) == 0 for p in procs)
    finally:
        mon.close(ok=False)
    assert mon.statuses == "df" and (mon.done, mon.failed) == (1, 1)
    assert mon.errors == {"1": "Traceback\nRuntimeError: <oom>"}
    assert mon.steps == [5, 5] and mon.totals == [5, 5]
    assert mon.curve["loss"]["0"][-1] == [5.0, 0.2]


def test_partial_lines_wait_and_missing_files_are_fine(tmp_path):
    sink = Recorder()
    poller = EventPoller(sink, interval=60)  # the test polls by hand
    path = tmp_path / "events.jsonl"
    poller.watch(0, path)
    poller.watch(1, tmp_path / "never.jsonl")
    assert poller.poll() == 0
    line = json.dumps({"t": 0, "event": "report", "step": 2, "total": None,
                       "metrics": {"acc": 0.9}})
    path.write_text(line[:10])
    assert poller.poll() == 0  # half a line is left for later
    path.write_text(line + "\n" + "not json\n")
    assert poller.poll() == 1  # a garbled line is skipped
    assert sink.calls == [("report", 0, 2, None, {"acc": 0.9})]
    with open(path, "a") as fh:
        fh.write(json.dumps({"t": 1, "event": "end", "status": "failed", "error": "x"}) + "\n")
    poller.stop()
    assert sink.calls[-1] == ("end", 0, "failed", "x")
    assert poller.watching == [1]


def test_errors_in_the_sink_are_shown_not_lost(tmp_path):
    class Broken(NullProgress):
        def job_report(self, index, step, total, metrics):
            raise ZeroDivisionError("bad sink")

    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"t": 0, "event": "report", "step": 1, "total": 1,
                                "metrics": {}}) + "\n")
    poller = EventPoller(Broken(), interval=60)
    poller.watch(0, path)
    with pytest.warns(RuntimeWarning, match=r"report event of job 0.*ZeroDivisionError: bad"):
        poller.stop()


def test_poller_bad_input():
    with pytest.raises(MushinValueError, match=r"`interval` must be a positive number"):
        EventPoller(NullProgress(), interval=0)
    poller = EventPoller(NullProgress())
    with pytest.raises(MushinValueError, match=r"`index` must be a job index \(int >= 0\)"):
        poller.watch(-1, "x.jsonl")
    with pytest.raises(MushinTypeError, match=r"`path` must be a path .*got 3 \(type: int\)"):
        poller.watch(0, 3)
    poller.stop()


def test_text_progress_on_a_string_buffer():
    buf = io.StringIO()
    bar = TextProgress(file=buf)
    bar.start(["a", "b", "c"], title="grid")
    bar.job_report(0, 1, 2, {"loss": 0.25})
    bar.job_end(0, "done")
    bar.job_end(1, "failed", "boom")
    bar.job_end(2, "done")
    bar.close(ok=False)
    out = buf.getvalue()
    assert "grid" in out and "3/3" in out
    assert "loss=0.25" in out and "failed=1" in out


def test_watch_mixin_gives_text_progress_polling(tmp_path):
    class PolledText(WatchMixin, TextProgress):
        poll_interval = 0.05

        def close(self, ok=True):
            self._stop_watching()
            super().close(ok)

    buf = io.StringIO()
    bar = PolledText(file=buf)
    bar.start(["only"], title="polled")
    path = tmp_path / "events.jsonl"
    bar.watch(0, path)
    assert run_worker(path).wait(timeout=60) == 0
    bar.close()
    out = buf.getvalue()
    assert "1/1" in out and "loss=0.2" in out
