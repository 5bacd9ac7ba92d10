"""Per-job result records on disk: written atomically, read back with no task code.

Each job directory holds ``.mushin/record.json``: the job's overrides, number, status
(``running`` while it runs, then ``done`` or ``failed``), timings, its return value and,
on failure, the exception type, message and traceback (also in ``traceback.txt``).
Records are JSON (arrays as ``{"__ndarray__": ...}``), so loading one never runs code.
"""

from __future__ import annotations

import json
import os
import traceback
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "RECORD_DIR",
    "ExistingJob",
    "decode",
    "encode",
    "error_record",
    "read_record",
    "scan_jobs",
    "to_numpy",
    "write_record",
    "write_text_atomic",
]

RECORD_DIR = ".mushin"
RECORD_NAME = "record.json"
TRACEBACK_NAME = "traceback.txt"
FORMAT_VERSION = 1


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to a temporary sibling, then rename it over ``path``.

    A reader sees the old file or the new one, never a half-written one.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def to_numpy(value: Any) -> Any:
    """Torch tensors and NumPy scalars to NumPy arrays / Python scalars, recursively.

    Examples
    --------
    >>> to_numpy({"a": np.float32(0.5), "b": [np.int64(2)]})
    {'a': 0.5, 'b': [2]}
    """
    module = type(value).__module__
    if module.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu()
        if not value.dtype.is_floating_point or value.dtype.itemsize >= 4:
            return value.numpy()
        return value.float().numpy()  # bfloat16 / float16 have no exact NumPy twin
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_numpy(v) for v in value]
    return value


def encode(value: Any) -> Any:
    """Make a (converted) return value JSON-able; arrays keep dtype and shape exactly.

    Examples
    --------
    >>> encode({"acc": np.array([0.5, 1.0])})
    {'acc': {'__ndarray__': [0.5, 1.0], 'dtype': 'float64', 'shape': [2]}}
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.name,
                "shape": list(value.shape)}
    if isinstance(value, np.ndarray) and value.dtype.kind == "U":
        return {"__ndarray__": value.tolist(), "dtype": "str", "shape": list(value.shape)}
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return {"__repr__": repr(value)}  # kept readable; the live run still has the object


def decode(value: Any) -> Any:
    """Inverse of :func:`encode` (``{"__repr__": ...}`` comes back as that string).

    Examples
    --------
    >>> decode(encode(np.arange(3, dtype=np.int32))).dtype
    dtype('int32')
    """
    if isinstance(value, dict):
        if "__ndarray__" in value:
            dtype = str if value["dtype"] == "str" else np.dtype(value["dtype"])
            return np.asarray(value["__ndarray__"], dtype=dtype).reshape(value["shape"])
        if "__repr__" in value and len(value) == 1:
            return value["__repr__"]
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def _dumps(record: Mapping[str, Any]) -> str:
    return json.dumps(record, allow_nan=True, ensure_ascii=False)


def write_record(job_dir: Path, record: Mapping[str, Any]) -> None:
    """Atomically write ``record`` as the job's result record."""
    folder = job_dir / RECORD_DIR
    try:
        write_text_atomic(folder / RECORD_NAME, _dumps({"format": FORMAT_VERSION, **record}))
    except FileNotFoundError:  # the launcher usually made the folder already
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(folder / RECORD_NAME, _dumps({"format": FORMAT_VERSION, **record}))


def read_record(job_dir: Path) -> dict[str, Any] | None:
    """Return the job's record (return value decoded), or None when there is none."""
    try:
        text = (job_dir / RECORD_DIR / RECORD_NAME).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    record = json.loads(text)
    record["return_value"] = decode(record.get("return_value"))
    return record


def error_record(job_dir: Path, exc: BaseException, where: str) -> dict[str, Any]:
    """Describe a failure and write its traceback next to the record."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    folder = job_dir / RECORD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    tb_path = folder / TRACEBACK_NAME
    write_text_atomic(tb_path, f"{where}\n{text}")
    return {"error_type": type(exc).__name__, "error_message": str(exc),
            "traceback": text, "traceback_path": str(tb_path)}


@dataclass(frozen=True)
class ExistingJob:
    """A job directory found in a working dir, with what its record says."""

    job_dir: Path
    num: int
    overrides: tuple[str, ...]
    status: str


def _job_dirs(root: Path, output_subdir: str | None) -> Iterator[Path]:
    """Directories holding a record or Hydra's job files; job dirs are not descended into."""
    markers = {RECORD_DIR} | ({output_subdir} if output_subdir else set())
    for current, dirs, _files in os.walk(root):
        here = Path(current)
        if here != root and markers.intersection(dirs):
            dirs.clear()
            yield here
        else:
            dirs[:] = [d for d in dirs if d not in markers]


def scan_jobs(root: Path, output_subdir: str | None) -> dict[tuple[str, ...], ExistingJob]:
    """Index the jobs under ``root`` by their sorted task overrides.

    A job interrupted before its record was written is found through Hydra's
    ``overrides.yaml`` / ``hydra.yaml`` and reported with status ``"missing"``.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    found: dict[tuple[str, ...], ExistingJob] = {}
    for job_dir in _job_dirs(root, output_subdir):
        record = None
        try:
            record = json.loads((job_dir / RECORD_DIR / RECORD_NAME).read_text("utf-8"))
            overrides, num, status = record["overrides"], record["num"], record["status"]
        except (OSError, ValueError, KeyError):
            if not output_subdir:
                continue
            try:
                hydra_dir = job_dir / output_subdir
                overrides = yaml.load((hydra_dir / "overrides.yaml").read_text(), loader)
                num = yaml.load((hydra_dir / "hydra.yaml").read_text(), loader)["hydra"]["job"][
                    "num"]
                status = "missing"
            except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
                continue
        key = tuple(sorted(overrides or []))
        job = ExistingJob(job_dir, int(num), tuple(overrides or []), status)
        previous = found.get(key)
        # two dirs for one job (e.g. a grid that shrank and grew): prefer a finished one
        if previous is None or (previous.status != "done" and status == "done"):
            found[key] = job
    return found
