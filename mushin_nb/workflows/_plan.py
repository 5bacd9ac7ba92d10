"""Planning a sweep: the grid of jobs, which of them are on disk, and the sweep's directory.

The grid is Hydra's basic sweeper's (every combination of the swept values, in order);
a job whose overrides match one found in the working dir keeps its number and directory,
new ones are numbered after them.  A sweep with no ``working_dir`` claims a fresh
directory (``multirun/<date>/<time>[-n]``) so that two sweeps never share one.
"""

from __future__ import annotations

import datetime
import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinNotADirectoryError,
    MushinRuntimeError,
    MushinValueError,
    bad_value,
)
from mushin_nb.workflows._jobs import JobOutcome
from mushin_nb.workflows._multirun import expand_sweep, param_name, parse_override
from mushin_nb.workflows._store import scan_jobs

__all__ = ["Grid", "build_grid", "check_dir", "claim_dir", "default_dir", "load_cfg",
           "plain_overrides", "plan_jobs", "quote_path", "require_dir", "set_sweep_dir",
           "touches_defaults", "user_sweep_dir"]


# --------------------------------------------------------------------------- the grid


@dataclass
class Grid:
    """Every job's override lines, in grid order, and which keys are swept."""

    jobs: list[list[str]]
    swept: list[str]  # key elements of swept overrides, in order

    def labels(self) -> list[str]:
        keys = set(self.swept)
        out = []
        for overrides in self.jobs:
            parts = [o.lstrip("+~") for o in overrides if o.split("=", 1)[0] in keys]
            out.append(" ".join(parts) or "job")
        return out


def build_grid(hydra: Any, master: Any) -> Grid:
    """The grid of the composed sweep config ``master``, as Hydra's basic sweeper makes it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    task = list(OmegaConf.to_container(master.hydra.overrides.task, resolve=False))
    params = OmegaConf.select(master, "hydra.sweeper.params", default=None) or {}
    lines = [f"{k}={v}" for k, v in params.items()] + task
    if any("glob(" in line for line in lines):  # glob sweeps list config-group options
        parser = OverridesParser.create(config_loader=hydra.config_loader)
        parsed = parser.parse_overrides(lines)
    else:
        parsed = [parse_override(line) for line in lines]
    names: dict[str, str] = {}
    swept: list[str] = []
    for override in parsed:
        key = override.get_key_element()
        name = param_name(override.key_or_group)
        if name in names and names[name] != key or key in swept:
            raise MushinValueError(
                f"parameter `{name}` is given twice (in `overrides` and as a run() "
                "argument?). Fix: pass each parameter once")
        names[name] = key
        if override.is_sweep_override():
            if not override.is_discrete_sweep():
                raise MushinValueError(
                    f"`overrides` entry {override.input_line!r} is not a grid sweep. "
                    "Fix: list the values (a=1,2) or use range(...)/choice(...)")
            values = list(override.sweep_string_iterator())
            duplicates = sorted({v for v in values if values.count(v) > 1})
            if duplicates:
                raise MushinValueError(
                    f"parameter `{name}` sweeps over repeated values {duplicates}. "
                    "Fix: list each value once")
            swept.append(key)
    # BasicSweeper.split_arguments, with each job line's parse remembered
    columns: dict[str, list[str]] = {}
    try:
        for override in parsed:
            columns[override.get_key_element()] = expand_sweep(override)
    except HydraException as exc:
        raise MushinValueError(f"cannot build the grid: {exc}") from exc
    jobs = [list(job) for job in itertools.product(*columns.values())]
    return Grid(jobs=jobs, swept=swept)


def plan_jobs(grid: Grid, job_dir: Callable[[int, list[str]], Path], sweep_dir: Path,
              output_subdir: str | None) -> list[JobOutcome]:
    """Match grid cells to jobs already on disk; number the new ones after them.

    ``job_dir(num, overrides)`` is the directory of a new job.
    """
    existing = scan_jobs(sweep_dir, output_subdir) if sweep_dir.exists() else {}
    next_num = max((job.num for job in existing.values()), default=-1) + 1
    jobs = []
    for index, (overrides, label) in enumerate(zip(grid.jobs, grid.labels())):
        found = existing.get(tuple(sorted(overrides)))
        if found is not None:
            num, path, status = found.num, found.job_dir, found.status
        else:
            num, status = next_num, "pending"
            next_num += 1
            path = job_dir(num, overrides)
        job = JobOutcome(index=index, num=num, job_dir=path, overrides=list(overrides),
                         label=label, existed=found is not None or path.exists())
        job.status = "done" if status == "done" else "pending"
        jobs.append(job)
    return jobs


# --------------------------------------------------------------------------- the fast path


def plain_overrides(master: Any) -> bool:
    """True when the config is just ``+name=value`` parameters (no interpolation)."""
    from omegaconf import OmegaConf

    def literal(value: Any) -> bool:
        if isinstance(value, str):
            return "${" not in value
        if isinstance(value, (list, tuple)):
            return all(map(literal, value))
        if isinstance(value, dict):
            return all(map(literal, value.values()))
        return True

    lines = list(OmegaConf.to_container(master.hydra.overrides.task))
    names = set()
    for line in lines:
        override = parse_override(line)
        key = override.get_key_element()
        if not key.startswith("+") or key.startswith("++") or not key[1:].isidentifier():
            return False
        values = ([type(override)._convert_value(v) for v in override.sweep_iterator()]
                  if override.is_sweep_override() else [override.value()])
        if not all(map(literal, values)):
            return False
        names.add(key[1:])
    base = {k: v for k, v in master.items() if k != "hydra"}
    return set(base) <= names


def touches_defaults(hydra: Any, master: Any, grid: Grid) -> bool:
    """True when a swept override selects config-group options (changes the defaults list)."""
    repo = hydra.config_loader.repository
    for key in grid.swept:
        override = parse_override(f"{key}=x")
        name = override.key_or_group
        if override.package is not None or repo.group_exists(name):
            return True
    return bool(master.hydra.callbacks)


# --------------------------------------------------------------------------- working dir


def user_sweep_dir(overrides: Sequence[str]) -> bool:
    """True when ``overrides`` set ``hydra.sweep.dir`` themselves."""
    return any(o.split("=", 1)[0].lstrip("+~") == "hydra.sweep.dir" for o in overrides)


def check_dir(path: Path, arg: str) -> Path:
    """``path`` resolved, when it is a directory or can become one (else name ``arg``)."""
    path = path.expanduser().resolve()
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.is_dir():
            raise bad_value(arg, str(path), "a directory (or a path that does not exist yet)",
                            f"{parent} is a file: choose another working_dir",
                            MushinNotADirectoryError)
    return path


def default_dir() -> Path:
    """``./multirun/<date>/<time>``, Hydra's default sweep directory."""
    now = datetime.datetime.now()
    return Path.cwd() / "multirun" / now.strftime("%Y-%m-%d") / now.strftime("%H-%M-%S")


def claim_dir(path: Path) -> Path:
    """Create a new directory at ``path`` or ``path-2``, ``path-3``...; never reuse one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        candidate = path if n == 1 else path.with_name(f"{path.name}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise MushinRuntimeError(f"could not create a fresh working dir next to {path}")


def set_sweep_dir(master: Any, path: Path) -> None:
    """Point the composed config's ``hydra.sweep.dir`` (and its override line) at ``path``."""
    from omegaconf import open_dict, read_write

    with read_write(master.hydra), open_dict(master.hydra):
        master.hydra.sweep.dir = str(path)
        lines = [o for o in master.hydra.overrides.hydra
                 if o.split("=", 1)[0] != "hydra.sweep.dir"]
        master.hydra.overrides.hydra = [*lines, f"hydra.sweep.dir={quote_path(path)}"]


def quote_path(path: Path) -> str:
    """``path`` as a quoted value of a Hydra override."""
    from hydra.core.override_parser.types import Quote, QuotedString

    return QuotedString(text=str(path), quote=Quote.single).with_quotes()


def load_cfg(job_dir: Path, output_subdir: str | None) -> Any:
    """A job's ``config.yaml`` as Hydra saved it (None without one)."""
    from omegaconf import OmegaConf

    path = job_dir / str(output_subdir) / "config.yaml"
    return OmegaConf.load(path) if output_subdir and path.exists() else None


def require_dir(path: str | os.PathLike, arg: str = "working_dir") -> Path:
    """Resolve an existing sweep directory (one holding ``multirun.yaml``)."""
    path = Path(path).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise bad_value(arg, str(path), "a sweep directory", "pass the directory that holds "
                        "multirun.yaml, not a file in it", MushinNotADirectoryError)
    if not (path / "multirun.yaml").is_file():
        raise bad_value(arg, str(path), "a sweep directory holding multirun.yaml",
                        "pass the working_dir of a finished or interrupted sweep "
                        "(workflow.working_dir)", MushinFileNotFoundError)
    return path
