"""SweepMonitor state from plain Python: statuses, counts, ETA, throttling, curve, snapshot."""

from __future__ import annotations

import doctest
import html
import json
import time
import warnings
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mushin_nb
import mushin_nb.notebook.widgets as widgets_mod
from mushin_nb.errors import MushinRuntimeError, MushinTypeError, MushinValueError
from mushin_nb.notebook.widgets import STATUS_CODES, Snapshot, SweepMonitor


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(widgets_mod, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


def count_syncs(monkeypatch, mon):
    """Record the state messages the widget really sends through its comm."""
    sent = []
    original = mon._send

    def _send(msg, buffers=None):
        sent.append(sorted(msg["state"]))
        return original(msg, buffers=buffers)

    monkeypatch.setattr(mon, "_send", _send)
    return sent


def test_public_name_and_static_front_end():
    assert mushin_nb.SweepMonitor is SweepMonitor
    mon = SweepMonitor(display=False)  # the synced front-end is the shipped file's text
    assert "export default { render }" in mon._esm
    assert ".mushin-monitor" in mon._css


def test_state_follows_the_sink_calls():
    mon = SweepMonitor(display=False)
    mon.start(["a", "b", "c", "d"], title="grid")
    assert (mon.statuses, mon.labels, mon.title) == ("qqqq", ["a", "b", "c", "d"], "grid")
    mon.job_start(0)
    mon.job_report(1, 3, 10, {"loss": 1.5})  # a report implies the job is running
    mon.flush()
    assert mon.statuses == "rrqq" and mon.running == 2
    assert mon.steps == [None, 3, None, None] and mon.totals == [None, 10, None, None]
    mon.job_report(0, 10, 10, {})
    mon.job_end(0, "done")
    mon.job_end(1, "failed", "Traceback ...\nValueError: diverged")
    mon.job_end(2, "skipped")
    mon.close(ok=False)
    assert mon.statuses == "dfsq"
    assert (mon.done, mon.failed, mon.skipped, mon.running) == (1, 1, 1, 0)
    assert mon.errors == {"1": "Traceback ...\nValueError: diverged"}
    assert mon.finished and not mon.ok
    assert mon.metrics == ["loss"] and mon.metric == "loss"
    assert mon.curve == {"loss": {"1": [[3.0, 1.5]]}}


def test_progress_holds_only_the_running_jobs():
    mon = SweepMonitor(display=False)
    mon.start([str(i) for i in range(500)])
    mon.job_report(7, 3, 10, {})
    mon.job_report(480, 1, None, {})
    mon.job_end(2, "done")
    mon.flush()
    assert json.loads(mon.progress) == {"7": [3, 10], "480": [1, None]}
    mon.job_end(7, "done")
    mon.flush()
    assert json.loads(mon.progress) == {"480": [1, None]}
    mon.close()


def test_an_error_in_the_sync_thread_is_shown(monkeypatch):
    mon = SweepMonitor(display=False, interval=0.05)
    mon.start(["a"])

    def broken(*args, **kwargs):
        raise OSError("comm is gone")

    monkeypatch.setattr(mon, "_flush_locked", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mon.job_start(0)  # right after start()'s sync: left to the sync thread, which fails
        deadline = time.monotonic() + 10
        while not caught and time.monotonic() < deadline:
            time.sleep(0.02)
    assert [str(w.message) for w in caught] and all(
        "error in the SweepMonitor sync: OSError: comm is gone" in str(w.message)
        for w in caught)
    monkeypatch.undo()
    mon.close()
    assert mon.statuses == "r"


def test_done_job_fills_its_step_bar_and_long_errors_keep_their_end():
    mon = SweepMonitor(display=False)
    mon.start(["a", "b"])
    mon.job_report(0, 4, 10, {})
    mon.job_end(0, "done")
    mon.job_end(1, "failed", "x" * 10_000 + "KeyError: 'lr'")
    mon.close()
    assert mon.steps[0] == 10
    assert len(mon.errors["1"]) == 4000 and mon.errors["1"].endswith("KeyError: 'lr'")


def test_eta_from_finished_and_partial_jobs(clock):
    mon = SweepMonitor(display=False)
    mon.start(["a", "b", "c", "d"])
    assert mon.eta is None  # nothing done: no pace yet
    clock.now += 10
    mon.job_end(0, "done")
    clock.now += 10
    mon.job_end(1, "failed")
    mon.flush()
    assert mon.elapsed == pytest.approx(20)
    assert mon.eta == pytest.approx(20.0)  # 2 jobs in 20 s, 2 left
    mon.job_report(2, 5, 10, {})
    mon.flush()
    assert mon.eta == pytest.approx(20 * 1.5 / 2.5)  # half a job more done, 1.5 left
    mon.job_end(2, "done")
    mon.job_end(3, "done")
    mon.flush()
    assert mon.eta == 0.0


def test_skipped_jobs_do_not_set_the_pace(clock):
    mon = SweepMonitor(display=False)
    mon.start(["a", "b", "c", "d"])
    mon.job_end(0, "skipped")
    mon.job_end(1, "skipped")
    clock.now += 10
    mon.job_end(2, "done")
    mon.flush()
    assert mon.eta == pytest.approx(10.0)


def test_the_snapshot_keeps_the_sweep_duration(clock):
    mon = SweepMonitor(display=False)
    mon.start(["a"])
    clock.now += 65
    mon.job_end(0, "done")
    mon.close()
    clock.now += 600  # looking at it later does not make the sweep longer
    assert "(finished, 1m05s)" in mon.snapshot()._repr_html_()


def test_syncs_are_batched_and_throttled(monkeypatch):
    mon = SweepMonitor(display=False, interval=0.2)
    sent = count_syncs(monkeypatch, mon)
    mon.start([f"job{i}" for i in range(50)], title="fifty")
    assert len(sent) == 1 and {"labels", "statuses", "title"} <= set(sent[0])
    sent.clear()
    t0 = time.monotonic()
    for i in range(50):
        mon.job_start(i)
        for step in range(400):
            mon.job_report(i, step, 400, {"loss": 1.0 / (step + 1), "acc": step / 400})
        time.sleep(0.02)  # the job's own work: lets the throttle window pass
        mon.job_end(i, "done")
    wall = time.monotonic() - t0
    mon.close()
    # at most one batched message per interval, plus the trailing one and close()'s
    assert 3 <= len(sent) <= wall / 0.2 + 3, (len(sent), wall)
    # the timer thread may already have synced the last statuses: close() then adds the rest
    assert "finished" in sent[-1] and any("statuses" in keys for keys in sent)
    assert mon.statuses == "d" * 50 and mon.finished
    assert all(len(points) <= 101 for points in mon.curve["loss"].values())


def test_a_late_event_is_synced_by_the_timer_without_another_call(monkeypatch):
    mon = SweepMonitor(display=False, interval=0.1)
    mon.start(["a", "b"])
    mon.job_start(0)  # right after start()'s sync: throttled, left to the timer
    deadline = time.monotonic() + 5
    while mon.statuses != "rq" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert mon.statuses == "rq"
    mon.close()


def test_curve_keeps_the_most_recent_jobs_and_thins_long_series():
    mon = SweepMonitor(display=False, max_curves=3, max_points=10)
    mon.start([str(i) for i in range(5)])
    for i in range(5):
        for step in range(1000):
            mon.job_report(i, step, None, {"loss": float(step), "bad": float("nan")})
    mon.close()
    assert mon.metrics == ["loss"]  # NaN-only metrics never make a curve
    assert sorted(mon.curve["loss"]) == ["2", "3", "4"]
    points = mon.curve["loss"]["4"]
    assert len(points) <= 11 and points[0] == [0.0, 0.0] and points[-1] == [999.0, 999.0]
    xs = [x for x, _ in points]
    assert xs == sorted(xs)


def test_reports_without_step_are_numbered():
    mon = SweepMonitor(display=False)
    mon.start(["a"])
    for value in (3.0, 2.0, 1.0):
        mon.job_report(0, None, None, {"loss": value})
    mon.close()
    assert mon.curve["loss"]["0"] == [[0.0, 3.0], [1.0, 2.0], [2.0, 1.0]]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 12).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.tuples(st.integers(0, n - 1),
                       st.sampled_from(["start", "report", "done", "failed", "skipped"])),
             max_size=40))))
def test_statuses_match_the_last_event_of_each_job(case):
    n, events = case
    mon = SweepMonitor(display=False, interval=60)
    mon.start([f"j{i}" for i in range(n)])
    expected = ["q"] * n
    for index, kind in events:
        if kind == "start":
            mon.job_start(index)
            expected[index] = "r"
        elif kind == "report":
            mon.job_report(index, 1, 2, {"m": 1.0})
            expected[index] = "r" if expected[index] == "q" else expected[index]
        else:
            mon.job_end(index, kind, "err" if kind == "failed" else None)
            expected[index] = STATUS_CODES[kind]
    mon.close()
    assert mon.statuses == "".join(expected)
    assert mon.done + mon.failed + mon.skipped + mon.running + expected.count("q") == n
    assert mon.failed == expected.count("f")


def test_bad_input_is_named_and_explained():
    with pytest.raises(MushinValueError, match=r"`interval` must be a number of seconds"):
        SweepMonitor(display=False, interval=0)
    with pytest.raises(MushinValueError, match=r"`max_curves` must be a positive int, got 0"):
        SweepMonitor(display=False, max_curves=0)
    with pytest.raises(MushinTypeError, match=r"`display` must be True or False, got 'yes'"):
        SweepMonitor(display="yes")
    mon = SweepMonitor(display=False)
    with pytest.raises(MushinRuntimeError, match=r"before start\(labels\)"):
        mon.job_start(0)
    with pytest.raises(MushinTypeError, match=r"`labels` must be a sequence of job labels"):
        mon.start("abc")
    mon.start(["a", "b", "c"])
    with pytest.raises(MushinValueError, match=r"`index` must be a job index in \[0, 3\), got 3"):
        mon.job_report(3, 1, 1, {})
    with pytest.raises(MushinValueError, match=r"`index` must be .* got True \(type: bool\)"):
        mon.job_start(True)
    with pytest.raises(MushinValueError, match=r"`status` must be one of .*got 'finished'"):
        mon.job_end(0, "finished")
    mon.close()


def test_close_twice_and_restart_reset_the_state():
    mon = SweepMonitor(display=False)
    mon.start(["a"])
    mon.job_end(0, "failed", "boom")
    mon.close(ok=False)
    mon.close(ok=True)  # a second close changes nothing
    assert not mon.ok
    mon.start(["x", "y"])
    assert (mon.statuses, mon.errors, mon.finished, mon.ok) == ("qq", {}, False, True)
    mon.close()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.titles: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.titles += [value for key, value in attrs if key == "title"]


_SAFE_TAGS = {"div", "b", "span", "details", "summary", "table", "tr", "th", "td", "pre"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6),
       st.text(max_size=30), st.text(min_size=1, max_size=40))
def test_snapshot_html_escapes_everything(labels, title, error):
    codes = "df" * len(labels)
    snap = Snapshot(title=title, labels=labels, statuses=codes[: len(labels)],
                    errors={"0": error}, elapsed=3.0)
    parser = _Tags()
    parser.feed(snap._repr_html_())
    assert parser.tags <= _SAFE_TAGS  # no tag from the sweep's text got through
    names = {"d": "done", "f": "failed"}
    assert parser.titles == [f"{label}: {names[code]}" for label, code in zip(labels, codes)]


def test_snapshot_text_and_html_agree():
    mon = SweepMonitor(display=False)
    mon.start(["lr=<0.1>", "lr=0.01", "lr=1"], title="A & B")
    mon.job_end(0, "done")
    mon.job_end(1, "failed", "Traceback\nValueError: <nan> & inf")
    mon.close(ok=False)
    snap = mon.snapshot()
    text, page = str(snap), snap._repr_html_()
    assert text.splitlines()[0] == ("A & B: 3 jobs, 1 done, 1 failed, 0 skipped, "
                                    "0 running, 1 queued")
    assert "failed lr=0.01: ValueError: <nan> & inf" in text
    assert html.escape(text) in page  # the text fallback is embedded, escaped
    assert "<b>A &amp; B</b>: 3 jobs, 1 done, 1 failed" in page
    assert "ValueError: &lt;nan&gt; &amp; inf" in page and "<nan>" not in page
    assert "stopped with errors" in page
    bundle = snap._repr_mimebundle_()
    assert bundle["text/plain"] == text and bundle["text/html"] == page


def test_display_false_outside_ipython_shows_nothing(capsys):
    mon = SweepMonitor(display=True)  # no IPython shell here: nothing to display into
    mon.start(["a"])
    mon.close()
    assert capsys.readouterr().out == ""


def test_docstring_examples_run():
    result = doctest.testmod(widgets_mod,
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 5 and result.failed == 0
