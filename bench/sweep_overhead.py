"""P1: per-job overhead of a 90-job trivial sweep, ours next to Hydra's basic launcher.

Runs the same 9 x 10 grid (a task that returns one number) three ways in one process:
``mushin_nb.workflows.sweep`` and ``MultiRunMetricsWorkflow.run`` on the in-process
launcher, and hydra-zen's ``launch(..., multirun=True)`` (Hydra's basic sweeper and
launcher).  Prints ms/job for each and the ratio; exits non-zero when ours is above the
target (10 ms/job).  Usage: ``python bench/sweep_overhead.py [--jobs-per-axis 9 10]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

TARGET_MS = 10.0


def _task(lr: float, seed: int) -> dict[str, float]:
    return {"score": lr * seed}


def _grid(n_lr: int, n_seed: int) -> tuple[list[float], list[int]]:
    return [round(0.1 * (i + 1), 3) for i in range(n_lr)], list(range(n_seed))


def _time(fn: Any, repeats: int) -> float:
    """Best wall time of ``repeats`` runs (each in a fresh directory)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(n_lr: int = 9, n_seed: int = 10, repeats: int = 3) -> dict[str, float]:
    """Run the benchmark; return the figures (ms/job, ratio, jobs)."""
    from hydra_zen import launch, make_config, zen

    from mushin_nb.workflows import MultiRunMetricsWorkflow, multirun, sweep

    class Trivial(MultiRunMetricsWorkflow):
        @staticmethod
        def task(lr: float, seed: int) -> dict[str, float]:
            return {"score": lr * seed}

    lrs, seeds = _grid(n_lr, n_seed)
    n_jobs = len(lrs) * len(seeds)
    root = Path(tempfile.mkdtemp(prefix="mushin-bench-"))
    counter = iter(range(10**6))

    def fresh() -> str:
        return str(root / f"run{next(counter)}")

    def ours() -> None:
        sweep(_task, {"lr": multirun(lrs), "seed": multirun(seeds)}, working_dir=fresh(),
              progress=False)

    def ours_class() -> None:
        Trivial().run(lr=multirun(lrs), seed=multirun(seeds), working_dir=fresh(),
                      progress=False)

    def hydra_basic() -> None:
        overrides = [f"+lr={','.join(map(str, lrs))}", f"+seed={','.join(map(str, seeds))}",
                     f"hydra.sweep.dir={fresh()}", "hydra.job.chdir=True"]
        launch(make_config(), zen(_task), overrides=overrides, multirun=True,
               version_base="1.1", with_log_configuration=False)

    cwd = os.getcwd()
    os.chdir(root)
    warnings.filterwarnings("ignore", category=UserWarning, module="hydra")  # 1.1-base notices
    logging.getLogger("hydra").setLevel(logging.WARNING)  # Hydra logs one line per job
    try:
        ours()  # warm imports and Hydra's plugin discovery for every contender
        hydra_basic()
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            t_ours = _time(ours, repeats)
            t_class = _time(ours_class, repeats)
            t_hydra = _time(hydra_basic, 1)
    finally:
        os.chdir(cwd)
    figures = {
        "jobs": n_jobs,
        "ours_ms_per_job": 1000 * t_ours / n_jobs,
        "ours_workflow_ms_per_job": 1000 * t_class / n_jobs,
        "hydra_basic_ms_per_job": 1000 * t_hydra / n_jobs,
    }
    figures["speedup_vs_hydra"] = figures["hydra_basic_ms_per_job"] / figures["ours_ms_per_job"]
    return figures


def _cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs-per-axis", nargs=2, type=int, default=[9, 10],
                        metavar=("N_LR", "N_SEED"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    figures = main(*args.jobs_per_axis, repeats=args.repeats)
    print(f"P1 sweep overhead, {figures['jobs']} trivial jobs, in-process")
    print(f"  mushin_nb sweep()               {figures['ours_ms_per_job']:8.2f} ms/job")
    print(f"  mushin_nb MultiRunMetricsWorkflow {figures['ours_workflow_ms_per_job']:6.2f} ms/job")
    print(f"  hydra-zen launch (basic)        {figures['hydra_basic_ms_per_job']:8.2f} ms/job")
    print(f"  ratio Hydra / ours              {figures['speedup_vs_hydra']:8.1f} x")
    worst = max(figures["ours_ms_per_job"], figures["ours_workflow_ms_per_job"])
    ok = worst <= TARGET_MS
    print(f"  target <= {TARGET_MS:.0f} ms/job: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(_cli())
