"""Run every benchmark of ``bench/`` in its own process and print a table of targets.

Each script prints its own figures (ours next to the anchor measured in the same run)
and exits non-zero when it misses its target.  ``make bench`` runs this file.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCHES = [
    ("P1", "sweep_overhead.py", "sweep overhead per job <= 10 ms"),
    ("P2", "metrics_throughput.py", "classification battery >= 2x torchmetrics"),
    ("P3", "stats_speed.py", "all stats of 10x6x10x12, 10k bootstrap < 1 s"),
    ("P4", "tune_rounds.py", "tune() finds the best with <= 35% of the epochs"),
    ("P4b", "tune_rounds.py --launched", "tune() rounds on joblib <= 0.65x in-process"),
    ("P5", "batch_parallel.py", "8 notebooks, jobs=2 <= 0.65x serial"),
    ("P6", "import_time.py", "import mushin_nb / %load_ext <= 0.3 s"),
    ("P7", "monitor_cost.py", "live monitor <= 2% of wall time"),
    ("P8", "seeds_vectorized.py", "10 seeds at once >= 5x (MLP) / 3x (CNN) sequential"),
]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks named in ``argv`` (ids like ``P1``), or all of them."""
    wanted = set(argv or sys.argv[1:])
    here = Path(__file__).resolve().parent
    rows = []
    for bench_id, script, target in BENCHES:
        if wanted and bench_id not in wanted:
            continue
        script, *args = script.split()
        path = here / script
        if not path.exists():
            rows.append((bench_id, target, "missing", 0.0))
            continue
        print(f"\n=== {bench_id}: {script} ({target})", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(path), *args])
        seconds = time.perf_counter() - start
        rows.append((bench_id, target, "met" if code == 0 else "MISSED", seconds))
    print("\n id   result  seconds  target")
    for bench_id, target, result, seconds in rows:
        print(f" {bench_id:<4} {result:<6}  {seconds:7.1f}  {target}")
    return 0 if all(r[2] == "met" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
