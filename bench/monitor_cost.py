"""P7: what live progress costs a sweep (target: the monitor adds <= 2 % to the wall time).

A sweep of ``jobs`` jobs of ``steps`` steps runs under each progress sink; each step is a
fixed amount of CPU work followed by ``report(step=..., total=..., loss=..., acc=...)``.
Rounds are interleaved so that load on the machine hits every mode alike.  Two figures
per mode:

- ``share``: the monitor's own work over the run's wall time.  On the sweep's thread it is
  the wall time spent inside the sink's methods (``time.perf_counter`` around every call,
  less what the timing itself books), waits on the monitor's lock included: the sweep
  stands still meanwhile.  On the monitor's own threads (its sync thread and the event
  poller) it is their CPU time (``time.thread_time``): while such a thread waits for the
  GIL or for the lock, the sweep runs, so that wait costs the sweep nothing.  This is the
  verdict; a busy machine stretches both sides of the ratio alike;
- ``A/B``: the run against its baseline run of the same round, median over the rounds:
  process CPU time (all threads) for the single-process modes, wall time for the
  ``joblib`` modes (their jobs run in worker processes).  It also catches indirect costs
  (caches, GIL hand-overs), but its noise on a shared machine is of the size of the 2 %
  it is compared with, so it is printed, not gated, with that noise (a baseline against
  itself from one round to the next); read it on an idle machine.

Modes:

- ``null``: :class:`NullProgress`, the baseline of the in-process modes;
- ``monitor``: :class:`SweepMonitor` (``display=False``) fed in-process by a real
  ``mushin_nb.workflows.sweep``; its comm encodes every state message to JSON as a
  kernel would, so the cost of syncing is counted;
- ``text``: the tqdm :class:`TextProgress` (to a throw-away buffer), for reference;
- ``null-joblib`` / ``monitor-joblib``: the same sweep on Hydra's joblib launcher (two
  worker processes): ``report()`` in the workers appends to each job's event file and the
  monitor polls the files, as in a notebook driving a joblib or submitit sweep;
- ``null-file`` / ``monitor-polled``: the worst case of the event-file channel: the jobs
  run on this process's main thread while the monitor polls their files from a thread of
  the same process, so every poll competes with the jobs for the GIL (baseline: the same
  appends, nobody reading them).

Run ``python bench/monitor_cost.py`` (exit status 1 when a monitor mode misses the target)
or call :func:`main` for the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mushin_nb.notebook.widgets import SweepMonitor
from mushin_nb.progress import NullProgress, TextProgress, job_context, report
from mushin_nb.workflows import multirun, sweep

TARGET = 0.02
METER_COST = 0.0  # set by main(): what the meter books per call for itself
GATED = ("monitor", "monitor-joblib", "monitor-polled")  # the modes P7 is about
BASELINE = {"monitor": "null", "text": "null", "monitor-joblib": "null-joblib",
            "monitor-polled": "null-file"}
MODES = ["null", "monitor", "text", "null-joblib", "monitor-joblib", "null-file",
         "monitor-polled"]


def work(units: int) -> int:
    """A fixed amount of pure-Python CPU work (holds the GIL, like a training step's glue)."""
    acc = 0
    for k in range(units):
        acc = (acc + k * k) % 1_000_003
    return acc


def calibrate(seconds: float) -> int:
    """Units of :func:`work` that take about ``seconds`` on this machine."""
    units = 20_000
    best = min(_timed(work, units) for _ in range(5))
    return max(1, int(units * seconds / best))


def _timed(fn: Any, *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def _kernel_like(monitor: SweepMonitor) -> SweepMonitor:
    # outside a kernel the comm drops messages; encode them as the kernel's session would
    def publish_msg(msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None,
                    **keys: Any) -> None:
        json.dumps({"data": data, "metadata": metadata or {}}, default=str,
                   ensure_ascii=False, allow_nan=False).encode()

    monitor.comm.publish_msg = publish_msg
    return monitor


class Meter:
    """Time spent inside a sink's methods, outermost calls only.

    Calls on the thread that created the meter (the sweep's) are timed by the wall clock;
    calls on any other thread (the monitor's own) by that thread's CPU clock.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._sweep_thread = threading.get_ident()
        self._depth = threading.local()
        self._lock = threading.Lock()

    def wrap(self, obj: Any, name: str) -> None:
        inner = getattr(obj, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._depth, "n", 0)
            self._depth.n = depth + 1
            clock = (time.perf_counter if threading.get_ident() == self._sweep_thread
                     else time.thread_time)
            start = clock()
            try:
                return inner(*args, **kwargs)
            finally:
                self._depth.n = depth
                if depth == 0:
                    spent = clock() - start
                    with self._lock:
                        self.seconds += spent
                        self.calls += 1

        setattr(obj, name, timed)


def meter_cost(calls: int = 5000) -> float:
    """Seconds the meter itself books for one call (subtracted from every share)."""
    meter = Meter()
    probe = SimpleNamespace(call=lambda *args: None)
    meter.wrap(probe, "call")
    for _ in range(calls):
        probe.call(0, 1, 2, {})
    return meter.seconds / calls


SINK_METHODS = ("start", "job_start", "job_report", "job_end", "watch", "close")


def metered(sink: Any, meter: Meter) -> Any:
    for name in SINK_METHODS:
        meter.wrap(sink, name)
    if isinstance(sink, SweepMonitor):
        meter.wrap(sink, "_flush_locked")  # the sync thread's work
        watch = sink.watch

        def watch_and_meter(index: int, path: Any) -> None:
            first = sink._poller is None
            watch(index, path)
            if first:
                meter.wrap(sink._poller, "poll")  # the poller thread's work

        sink.watch = watch_and_meter
    return sink


def make_sink(mode: str) -> Any:
    if mode.startswith("null"):
        return NullProgress()
    if mode.startswith("monitor"):
        return _kernel_like(SweepMonitor(display=False))
    if mode == "text":
        return TextProgress(file=io.StringIO())
    raise ValueError(f"unknown mode {mode!r}")


def _job(i: int, steps: int, units: int) -> dict:
    for step in range(1, steps + 1):
        work(units)
        report(step=step, total=steps, loss=1.0 / (step + i), acc=step / steps)
    return {"loss": 1.0 / (steps + i)}


def run_sweep(mode: str, jobs: int, steps: int, units: int, workdir: Path
              ) -> tuple[float, float, float]:
    """Run the sweep under ``mode``'s sink; return (wall, CPU, in-sink) seconds.

    The in-process and ``joblib`` modes run a real ``mushin_nb.workflows.sweep``; the
    ``-file`` / ``-polled`` modes drive the sink as the engine does for worker processes
    (``watch``, then ``job_end``), with the jobs on this thread so that their work is timed
    with the rest.
    """
    meter = Meter()
    sink = metered(make_sink(mode), meter)
    start, cpu = time.perf_counter(), time.process_time()
    if mode.endswith(("-file", "-polled")):
        _file_channel_sweep(sink, jobs, steps, units, workdir / mode)
    else:
        launch = {"launcher": "joblib", "overrides": ["hydra.launcher.n_jobs=2"]} \
            if mode.endswith("-joblib") else {}
        with contextlib.redirect_stdout(io.StringIO()):  # the engine's one-line summary
            sweep(_job, {"i": multirun(list(range(jobs))), "steps": steps, "units": units},
                  working_dir=workdir / mode, progress=sink, title=f"P7 {mode}", **launch)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    if mode.startswith("monitor"):
        assert sink.statuses == "d" * jobs and sink.steps == [steps] * jobs, mode
    return wall, cpu, max(0.0, meter.seconds - meter.calls * METER_COST)


def _file_channel_sweep(sink: Any, jobs: int, steps: int, units: int, workdir: Path) -> None:
    dirs = [workdir / f"job{i}" for i in range(jobs)]
    sink.start([f"i={i}" for i in range(jobs)], "P7 event files")
    for i, job_dir in enumerate(dirs):
        sink.watch(i, job_dir / ".mushin" / "events.jsonl")
    for i in range(jobs):
        # no sink in the job's context: report() appends to the job's event file
        with job_context(i, job_dir=dirs[i], sink=None):
            _job(i, steps, units)
        sink.job_end(i, "done")
    sink.close(ok=True)


def _ab_clock(mode: str) -> int:
    """Which figure of a run the A/B compares: 0 (wall) for the ``joblib`` modes, whose
    jobs' CPU is spent in the workers, else 1 (this process's CPU)."""
    return 0 if mode.endswith("-joblib") else 1


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; return the figures (walls in seconds, overheads as fractions)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--step-ms", type=float, default=2.0, help="CPU work per step")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv if argv is not None else [])
    modes = MODES
    global METER_COST
    METER_COST = min(meter_cost() for _ in range(3))
    units = calibrate(args.step_ms / 1000)
    runs: dict[str, list[tuple[float, float, float]]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("null", "null-joblib"):  # imports, and joblib's worker processes
            run_sweep(mode, 2, 2, units, Path(tmp) / "warm-up")
        for r in range(args.rounds):
            order = modes[r % len(modes):] + modes[: r % len(modes)]  # rotate: fair to all
            for mode in order:
                runs[mode].append(run_sweep(mode, args.jobs, args.steps, units,
                                            Path(tmp) / f"round{r}"))
    wall = {mode: min(r[0] for r in values) for mode, values in runs.items()}
    cpu = {mode: min(r[1] for r in values) for mode, values in runs.items()}
    share = {mode: min(r[2] / r[0] for r in values) for mode, values in runs.items()}
    overhead = {mode: statistics.median(
        a[_ab_clock(mode)] / b[_ab_clock(mode)] - 1 for a, b in zip(runs[mode], runs[base]))
        for mode, base in BASELINE.items()}
    # what the A/B column can resolve: a baseline against itself, round to round
    noise = {base: statistics.median(
        abs(a[_ab_clock(base)] / b[_ab_clock(base)] - 1)
        for a, b in zip(runs[base][1:], runs[base]))
        for base in dict.fromkeys(BASELINE.values())} if args.rounds > 1 else {}
    reports = args.jobs * args.steps
    result = {
        "jobs": args.jobs, "steps": args.steps, "reports": reports,
        "report_rate_hz": reports / wall["null"], "wall_s": wall, "cpu_s": cpu,
        "share": share, "ab_overhead": overhead, "ab_noise": noise,
        "target": TARGET, "ok": all(share[mode] <= TARGET for mode in GATED),
    }
    print(f"P7 monitor cost: {args.jobs} jobs x {args.steps} steps of {args.step_ms:g} ms "
          f"({reports} reports, {result['report_rate_hz']:.0f}/s), {args.rounds} rounds "
          "(wall, cpu, share: best; A/B: median of the rounds' ratios)")
    print(f"{'mode':<16}{'wall s':>8}{'cpu s':>8}{'share':>9}{'A/B':>9}  vs")
    for mode in modes:
        base = BASELINE.get(mode)
        clock = ("wall", "cpu")[_ab_clock(mode)]
        ab = f"{100 * overhead[mode]:+8.2f}%  {base} ({clock})" if base else ""
        print(f"{mode:<16}{wall[mode]:8.3f}{cpu[mode]:8.3f}{100 * share[mode]:8.2f}%{ab}")
    if noise:
        print("A/B noise (a baseline against itself, round to round, median): "
              + ", ".join(f"{base} {100 * value:.2f}%" for base, value in noise.items()))
    verdict = "met" if result["ok"] else "MISSED"
    print(f"target <= {100 * TARGET:.0f}% for {', '.join(GATED)}: {verdict}")
    return result


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:])["ok"] else 1)
