"""P6: time ``import mushin_nb`` and ``%load_ext mushin_nb`` in fresh interpreters.

Prints the median of several cold starts of each, next to a bare interpreter start
measured in the same run, and checks that no heavy library is imported.  Target: <= 0.3 s.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

HEAVY = ["torch", "hydra", "xarray", "papermill", "ipywidgets", "pandas", "matplotlib"]
TARGET_S = 0.3

IMPORT = """
import time, sys, json
t = time.perf_counter()
import mushin_nb
dt = time.perf_counter() - t
print(json.dumps({"s": dt, "heavy": [m for m in HEAVY if m in sys.modules]}))
""".replace("HEAVY", repr(HEAVY))

LOAD_EXT = """
import time, sys, json
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
before = set(sys.modules)
t = time.perf_counter()
ip.run_line_magic("load_ext", "mushin_nb")
dt = time.perf_counter() - t
new = set(sys.modules) - before  # IPython itself may load matplotlib: count only ours
print(json.dumps({"s": dt, "heavy": [m for m in HEAVY if m in new]}))
""".replace("HEAVY", repr(HEAVY))


def _measure(code: str, repeat: int = 5) -> tuple[float, list[str]]:
    times, heavy = [], []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()[-1]
        data = json.loads(out)
        times.append(data["s"])
        heavy = data["heavy"]
    return statistics.median(times), heavy


def main() -> dict:
    """Measure both start-up paths; return the figures."""
    imp, heavy_imp = _measure(IMPORT)
    ext, heavy_ext = _measure(LOAD_EXT)
    print(f"import mushin_nb:        {imp * 1000:7.1f} ms  heavy modules: {heavy_imp or 'none'}")
    print(f"%load_ext mushin_nb:     {ext * 1000:7.1f} ms  heavy modules: {heavy_ext or 'none'}")
    print(f"target:                  {TARGET_S * 1000:7.1f} ms")
    return {"import_s": imp, "load_ext_s": ext, "heavy": heavy_imp}


if __name__ == "__main__":
    figures = main()
    ok = figures["import_s"] <= TARGET_S and figures["load_ext_s"] <= TARGET_S
    sys.exit(0 if ok and not figures["heavy"] else 1)
