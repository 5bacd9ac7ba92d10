"""GPU check: placement of one job per GPU through Ray, Ray's start-up cost, and the
throughput of ``train_seeds`` on the GPU.

1. Placement: a ``launcher="ray"`` sweep of ``2 k`` one-second jobs with
   ``gpus_per_job=1`` over the ``k`` GPUs (``k`` = the GPUs torch sees; on a machine with
   none, two of Ray's logical GPUs, ``hydra.launcher.ray.init.num_gpus=2``).  Each job
   records ``CUDA_VISIBLE_DEVICES`` and, with a real GPU, runs a matmul on it.  Met when
   every job saw exactly one GPU id and no id was held by two jobs at once.
2. Ray's start-up cost, paid once per sweep: the time from calling ``sweep`` to the
   first job starting, minus the same for the in-process launcher.
3. ``train_seeds`` (from ``mushin_nb.train``; skipped with a message where that module
   is absent): 10 digits MLPs trained at once vs one after another on the job's device.

Run ``python bench/gpu_check.py``; exits non-zero when placement fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

JOB_SECONDS = 1.0


def _job(x: int) -> dict[str, Any]:
    import time

    started = time.time()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    out: dict[str, Any] = {"visible": visible, "x": x}
    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():  # the job's own GPU is cuda:0 (Ray set the mask)
            a = torch.randn(2048, 2048, device="cuda:0")
            (a @ a).sum().item()
            out["name"] = torch.cuda.get_device_name(0)
    time.sleep(max(0.0, JOB_SECONDS - (time.time() - started)))
    return out


def _gpus() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        return 0


def placement() -> dict[str, Any]:
    """Run the placement sweep; return what each job saw and whether the check is met."""
    from mushin_nb.workflows import multirun, sweep

    k = _gpus()
    logical = k == 0
    n = 2 * (k or 2)
    overrides = ["hydra.launcher.ray.init.num_gpus=2"] if logical else []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.time()
        sweep(_job, {"x": multirun(list(range(n)))}, working_dir=Path(tmp) / "ray",
              launcher="ray", gpus_per_job=1, overrides=overrides, progress=False)
        records = [json.loads(p.read_text())
                   for p in (Path(tmp) / "ray").glob("*/.mushin/record.json")]
        start_local = time.time()
        sweep(_job, {"x": multirun([0])}, working_dir=Path(tmp) / "here", progress=False)
        local = [json.loads(p.read_text())
                 for p in (Path(tmp) / "here").glob("*/.mushin/record.json")]
    first = min(r["started"] for r in records) - start
    startup = first - (local[0]["started"] - start_local)
    spans = sorted((r["started"], r["finished"], tuple(r["devices"])) for r in records)
    one_each = all(len(r["devices"]) == 1 and r["devices"][0].startswith("gpu:")
                   for r in records)
    shared = any(a[2] == b[2] and b[0] < a[1]
                 for i, a in enumerate(spans) for b in spans[i + 1:])
    wall = max(r["finished"] for r in records) - min(r["started"] for r in records)
    names = sorted({r["return_value"].get("name", "") for r in records} - {""})
    print(f"placement: {n} jobs of {JOB_SECONDS:g} s on {k or 2} "
          f"{'logical (Ray, no GPU here)' if logical else 'real'} GPU(s) "
          f"{' '.join(names)}: wall {wall:.1f} s (ideal {n / (k or 2) * JOB_SECONDS:.1f} s)")
    print(f"  each job saw one GPU id: {'yes' if one_each else 'no'};  an id held by two "
          f"jobs at once: {'yes' if shared else 'no'}")
    print(f"  devices by job: {[r['devices'] for r in sorted(records, key=lambda r: r['num'])]}")
    print(f"Ray start-up, once per sweep: {startup:.1f} s (first job {first:.1f} s after "
          "the call; the in-process launcher's first job is the reference)")
    return {"met": one_each and not shared, "startup_s": startup, "wall_s": wall,
            "logical": logical}


def throughput() -> dict[str, Any] | None:
    """``train_seeds``: 10 seeds at once vs one at a time; None when it is not available."""
    if importlib.util.find_spec("mushin_nb.train") is None:
        print("train_seeds: mushin_nb.train is not in this build (issue 13); throughput "
              "skipped")
        return None
    import torch

    from mushin_nb.experiments.digits import digits_tensors
    from mushin_nb.experiments.zoo import digits_mlp

    train_seeds = importlib.import_module("mushin_nb.train").train_seeds

    device = "cuda:0" if torch.cuda.is_available() else "cpu"
    data = digits_tensors()
    seeds = list(range(10))
    try:
        start = time.perf_counter()
        train_seeds(lambda: digits_mlp(hidden=64), data, seeds, device=device)
        together = time.perf_counter() - start
        start = time.perf_counter()
        for seed in seeds:
            train_seeds(lambda: digits_mlp(hidden=64), data, [seed], device=device)
        apart = time.perf_counter() - start
    except TypeError as exc:  # the signature issue 13 settles on may differ
        print(f"train_seeds: could not call it as train_seeds(build, data, seeds, device=) "
              f"({exc}); throughput skipped")
        return None
    print(f"train_seeds on {device}: 10 seeds at once {together:.2f} s, one after another "
          f"{apart:.2f} s: {apart / together:.1f}x (P8 target on a GPU >= 10x)")
    return {"together_s": together, "apart_s": apart, "device": device}


def main() -> int:
    result = placement()
    throughput()
    print(f"GPU placement {'met' if result['met'] else 'MISSED'}")
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
