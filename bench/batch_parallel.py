"""P5: a batch of 8 notebooks with ``jobs=2`` against papermill running them one by one.

Each notebook burns ~2 s of CPU (process time, so the work is the same however busy the
machine is).  In the same run we time bare ``papermill.execute_notebook`` eight times in a
row (the anchor), ``run_notebook(..., jobs=1)`` (our per-notebook overhead) and
``run_notebook(..., jobs=2)`` (the target: <= 0.65x the anchor's wall time).
Exits non-zero when the target is missed.
"""

from __future__ import annotations

import argparse
import os
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
mushin_nb.record(seed=seed, spins=spins)
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


def _papermill_serial(nb: Path, out: Path, runs: int, cpu_seconds: float) -> float:
    import papermill

    out.mkdir()
    start = time.perf_counter()
    for seed in range(runs):
        papermill.execute_notebook(str(nb), str(out / f"seed{seed}.ipynb"),
                                   parameters={"seed": seed, "cpu_seconds": cpu_seconds},
                                   progress_bar=False)
    return time.perf_counter() - start


def _ours(nb: Path, out: Path, runs: int, cpu_seconds: float, jobs: int) -> float:
    from mushin_nb import multirun, run_notebook

    start = time.perf_counter()
    ds = run_notebook(nb, {"seed": multirun(list(range(runs))), "cpu_seconds": cpu_seconds},
                      working_dir=out, jobs=jobs, progress=False)
    wall = time.perf_counter() - start
    if int(ds["spins"].notnull().sum()) != runs:
        raise RuntimeError(f"jobs={jobs}: not every notebook recorded its result:\n{ds}")
    return wall


def main(runs: int = 8, cpu_seconds: float = 2.0, jobs: int = 2) -> dict:
    """Time the three ways of running ``runs`` notebooks; return the figures.

    Returns
    -------
    dict
        ``papermill_serial_s``, ``ours_jobs1_s``, ``ours_parallel_s``, ``ratio``
        (parallel / papermill serial), ``overhead_per_notebook_s`` (ours jobs=1 minus
        papermill, per notebook), ``target``, ``met``.
    """
    import logging

    logging.getLogger("papermill").setLevel(logging.ERROR)  # the anchor's own chatter
    with tempfile.TemporaryDirectory(prefix="mushin-p5-") as tmp:
        folder = Path(tmp)
        nb = _notebook(folder)
        serial = _papermill_serial(nb, folder / "papermill", runs, cpu_seconds)
        ours_one = _ours(nb, folder / "jobs1", runs, cpu_seconds, 1)
        ours_par = _ours(nb, folder / f"jobs{jobs}", runs, cpu_seconds, jobs)
    ratio = ours_par / serial
    figures = {
        "runs": runs, "cpu_seconds": cpu_seconds, "jobs": jobs, "cpus": os.cpu_count(),
        "papermill_serial_s": serial, "ours_jobs1_s": ours_one, "ours_parallel_s": ours_par,
        "ratio": ratio, "overhead_per_notebook_s": (ours_one - serial) / runs,
        "target": TARGET, "met": ratio <= TARGET,
    }
    print(f"P5: {runs} notebooks x {cpu_seconds:g} s CPU on {os.cpu_count()} CPUs")
    print(f"  papermill one by one     {serial:7.1f} s   (anchor)")
    print(f"  run_notebook jobs=1      {ours_one:7.1f} s   "
          f"overhead {figures['overhead_per_notebook_s']:+.2f} s/notebook over papermill")
    print(f"  run_notebook jobs={jobs}      {ours_par:7.1f} s   "
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
