"""The P7 benchmark's meter books what the monitor costs the sweep, and the bench runs."""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "monitor_cost.py"


@pytest.fixture(scope="module")
def monitor_cost():
    spec = importlib.util.spec_from_file_location("monitor_cost", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_meter_books_wall_time_on_the_sweep_thread(monitor_cost):
    meter = monitor_cost.Meter()
    probe = SimpleNamespace(call=lambda: time.sleep(0.05))
    meter.wrap(probe, "call")
    probe.call()
    assert meter.calls == 1
    assert meter.seconds >= 0.045  # the sweep stood still while the sink slept


def test_meter_books_cpu_time_on_the_monitor_threads(monitor_cost):
    meter = monitor_cost.Meter()
    def busy_then_wait() -> None:
        end = time.thread_time() + 0.03
        while time.thread_time() < end:  # 30 ms of CPU
            pass
        time.sleep(0.1)  # a wait: the sweep runs meanwhile

    probe = SimpleNamespace(call=busy_then_wait)
    meter.wrap(probe, "call")
    thread = threading.Thread(target=probe.call)
    thread.start()
    thread.join()
    assert meter.calls == 1
    assert 0.025 <= meter.seconds < 0.09  # the CPU burnt, not the 100 ms wait


def test_meter_counts_outermost_calls_only(monitor_cost):
    meter = monitor_cost.Meter()
    probe = SimpleNamespace()
    probe.inner = lambda: time.sleep(0.01)
    probe.outer = lambda: probe.inner()
    meter.wrap(probe, "inner")
    meter.wrap(probe, "outer")
    probe.outer()
    assert meter.calls == 1
    assert 0.009 <= meter.seconds < 0.05


def test_bench_runs_every_mode_and_reports_each_share(monitor_cost, capsys):
    result = monitor_cost.main(["--jobs", "3", "--steps", "4", "--step-ms", "0.5",
                                "--rounds", "1"])
    out = capsys.readouterr().out
    assert set(result["share"]) == set(monitor_cost.MODES)
    assert set(result["ab_overhead"]) == set(monitor_cost.BASELINE)
    for mode in monitor_cost.MODES:
        assert mode in out
        assert 0.0 <= result["share"][mode] < 1.0
    for mode in monitor_cost.GATED:  # a monitor did work, so it booked some time
        assert result["share"][mode] > 0.0
    assert result["reports"] == 12
    assert result["ok"] == all(result["share"][m] <= result["target"]
                               for m in monitor_cost.GATED)
