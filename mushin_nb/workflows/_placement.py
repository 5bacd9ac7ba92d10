"""``gpus_per_job``: check it, turn it into the launcher's own setting, say what a job saw.

Placement is the launcher's job, not ours: Ray gets the job's ``num_gpus`` (and sets
``CUDA_VISIBLE_DEVICES``), submitit its ``gpus_per_task`` / ``gpus_per_node``, and the
in-process launcher runs one job at a time on the visible device.  joblib cannot place
GPUs, so asking it to is an error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from mushin_nb.errors import MushinTypeError, MushinValueError, bad_value

__all__ = ["GPU_LAUNCHERS", "check_gpus_per_job", "gpu_overrides", "visible_devices"]

#: Launchers that place a job on its GPUs (``None`` is the in-process launcher).
GPU_LAUNCHERS = (None, "ray", "submitit_local", "submitit_slurm")
_SUBMITIT_KEY = {"submitit_local": "gpus_per_node", "submitit_slurm": "gpus_per_task"}


def check_gpus_per_job(value: Any, launcher: str | None = None, threads: int = 1
                       ) -> float | None:
    """Validate ``gpus_per_job`` for ``launcher``; return it as a number (None: not asked).

    Examples
    --------
    >>> check_gpus_per_job(1, "ray"), check_gpus_per_job(0.5, "ray"), check_gpus_per_job(None)
    (1, 0.5, None)
    >>> check_gpus_per_job(1, "joblib")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mushin_nb.errors.MushinValueError: `gpus_per_job` must be None with launcher='joblib'...
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_value("gpus_per_job", value, "a number of GPUs >= 0 (int or fraction)",
                        "pass e.g. gpus_per_job=1, or 0.5 to share a GPU between two jobs",
                        MushinTypeError)
    if not value >= 0 or value == float("inf"):
        raise bad_value("gpus_per_job", value, "a number of GPUs >= 0 (int or fraction)",
                        "pass e.g. gpus_per_job=1 (one GPU per job)", MushinValueError)
    if value == 0:
        return None
    if launcher not in GPU_LAUNCHERS and launcher != "mushin":
        names = ", ".join(repr(n) for n in GPU_LAUNCHERS)
        raise bad_value("gpus_per_job", value, f"None with launcher={launcher!r}, which "
                        "cannot place jobs on GPUs",
                        f"use a launcher that can: {names} (None runs in-process, one job "
                        "at a time), or leave gpus_per_job out")
    if launcher in _SUBMITIT_KEY and value != int(value):
        raise bad_value("gpus_per_job", value, f"a whole number with launcher={launcher!r}",
                        "pass e.g. gpus_per_job=1, or use launcher='ray' for fractions")
    if launcher in (None, "mushin") and threads > 1:
        raise bad_value("threads", threads, "1 when gpus_per_job is given in-process",
                        "leave threads=1 (jobs take the visible device one at a time), or "
                        "use launcher='ray' to run one job per GPU at once")
    return int(value) if value == int(value) else float(value)


def gpu_overrides(gpus: float | None, launcher: str | None) -> list[str]:
    """The Hydra overrides that ask ``launcher`` for ``gpus`` per job.

    Examples
    --------
    >>> gpu_overrides(1, "ray"), gpu_overrides(2, "submitit_slurm"), gpu_overrides(1, None)
    (['++hydra.launcher.ray.remote.num_gpus=1'], ['hydra.launcher.gpus_per_task=2'], [])
    """
    if gpus is None:
        return []
    if launcher == "ray":
        return [f"++hydra.launcher.ray.remote.num_gpus={gpus}"]
    if launcher in _SUBMITIT_KEY:
        return [f"hydra.launcher.{_SUBMITIT_KEY[launcher]}={int(gpus)}"]
    return []


def visible_devices() -> list[str]:
    """The devices this process can train on: ``gpu:<id>`` per visible GPU, else ``cpu``.

    ``<id>`` is the id ``CUDA_VISIBLE_DEVICES`` names (what Ray or SLURM gave the job);
    with no such variable, every GPU the driver lists.  Torch is not imported for this.

    Examples
    --------
    >>> import os
    >>> os.environ["CUDA_VISIBLE_DEVICES"] = "1"
    >>> visible_devices()
    ['gpu:1']
    >>> os.environ["CUDA_VISIBLE_DEVICES"] = ""
    >>> visible_devices()
    ['cpu']
    >>> del os.environ["CUDA_VISIBLE_DEVICES"]
    """
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        ids = [part.strip() for part in listed.split(",") if part.strip()]
        if ids and not ids[0].startswith("-"):
            return [f"gpu:{i}" for i in ids]
        return ["cpu"]
    torch = sys.modules.get("torch")
    if torch is not None:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    else:
        folder = Path("/proc/driver/nvidia/gpus")
        count = len(list(folder.iterdir())) if folder.is_dir() else 0
    return [f"gpu:{i}" for i in range(count)] or ["cpu"]
