"""P5: a batch of 8 notebooks with ``jobs=2`` against papermill running them one by one.

Each notebook burns ~2 s of CPU (process time, so the work is the same however busy the
machine is).  In the same run, each in a fresh Python process (imports included, as a user
waits for them), we time bare ``papermill.execute_notebook`` eight times in a row (the
anchor), ``run_notebook(..., jobs=1)`` (our per-notebook overhead) and
``run_notebook(..., jobs=2)`` (the target: <= 0.65x the anchor's wall time).
Exits non-zero when the target is missed.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.65

_PARAMETERS = "seed = 0\ncpu_seconds = 2.0"
_WORK = """\
import time

import mushin_nb

start = time.process_time()
spins = 0
while time.process_time() - start < cpu_seconds:  # CPU work, not sleep
    spins += 1
mushin_nb.record(spins=spins)
"""


def _notebook(folder: Path) -> Path:
    import nbformat

    params = nbformat.v4.new_code_cell(_PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(_WORK)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = folder / "burn.ipynb"
    nbformat.write(nb, path)
    return path


_ANCHOR = """\
import papermill
for seed in range({runs}):
    papermill.execute_notebook({nb!r}, {out!r} + f"/seed{{seed}}.ipynb",
                               parameters={{"seed": seed, "cpu_seconds": {cpu}}},
                               progress_bar=False)
"""

_OURS = """\
from mushin_nb import multirun, run_notebook
ds = run_notebook({nb!r}, {{"seed": multirun(list(range({runs}))), "cpu_seconds": {cpu}}},
                  working_dir={out!r}, jobs={jobs}, progress=False)
assert int(ds["spins"].notnull().sum()) == {runs}, ds
"""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # waited-for descendants: kernels too
    return usage.ru_utime + usage.ru_stime


def _wall(code: str) -> tuple[float, float]:
    """Wall and CPU time of ``code`` in a fresh Python, imports included (what a user waits
    for); the CPU time tells what the wall time would be on an otherwise idle machine."""
    cpu, start = _cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, _cpu() - cpu


def main(runs: int = 8, cpu_seconds: float = 2.0, jobs: int = 2) -> dict:
    """Time the three ways of running ``runs`` notebooks; return the figures.

    Returns
    -------
    dict
        ``papermill_serial_s``, ``ours_jobs1_s``, ``ours_parallel_s``, ``ratio``
        (parallel / papermill serial), ``overhead_per_notebook_s`` (ours jobs=1 minus
        papermill, per notebook), ``target``, ``met``.
    """
    load_before = os.getloadavg()[0]  # other work on the machine skews every figure
    with tempfile.TemporaryDirectory(prefix="mushin-p5-") as tmp:
        folder = Path(tmp)
        nb = str(_notebook(folder))
        (folder / "papermill").mkdir()
        (serial, serial_cpu) = _wall(_ANCHOR.format(
            runs=runs, nb=nb, out=str(folder / "papermill"), cpu=cpu_seconds))
        (ours_one, one_cpu), (ours_par, par_cpu) = (
            _wall(_OURS.format(runs=runs, nb=nb, out=str(folder / f"jobs{n}"), cpu=cpu_seconds,
                               jobs=n)) for n in (1, jobs))
    ratio = ours_par / serial
    figures = {
        "runs": runs, "cpu_seconds": cpu_seconds, "jobs": jobs, "cpus": os.cpu_count(),
        "papermill_serial_s": serial, "ours_jobs1_s": ours_one, "ours_parallel_s": ours_par,
        "ratio": ratio, "overhead_per_notebook_s": (ours_one - serial) / runs,
        "papermill_serial_cpu_s": serial_cpu, "ours_jobs1_cpu_s": one_cpu,
        "ours_parallel_cpu_s": par_cpu, "target": TARGET, "met": ratio <= TARGET,
        "load_before": load_before, "load_after": os.getloadavg()[0],
    }
    print(f"P5: {runs} notebooks x {cpu_seconds:g} s CPU on {os.cpu_count()} CPUs "
          f"(1-min load {load_before:.1f} before, {figures['load_after']:.1f} after)")
    print(f"  papermill one by one     {serial:7.1f} s wall {serial_cpu:6.1f} s CPU  (anchor)")
    print(f"  run_notebook jobs=1      {ours_one:7.1f} s wall {one_cpu:6.1f} s CPU  "
          f"overhead {figures['overhead_per_notebook_s']:+.2f} s/notebook over papermill")
    print(f"  run_notebook jobs={jobs}      {ours_par:7.1f} s wall {par_cpu:6.1f} s CPU  "
          f"ratio {ratio:.2f} x papermill (target <= {TARGET})  "
          f"{'met' if figures['met'] else 'MISSED'}")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--cpu-seconds", type=float, default=2.0)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    sys.exit(0 if main(args.runs, args.cpu_seconds, args.jobs)["met"] else 1)
