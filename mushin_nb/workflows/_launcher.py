"""Run a grid of Hydra jobs: compose once, then launch in-process or via a Hydra launcher.

Hydra's basic sweeper and launcher compose the whole config again for every job
(~0.1 s each).  The in-process launcher here composes the sweep's config once with
Hydra's own config loader, applies each job's value overrides to a copy of it (Hydra's
own override code), and writes the files Hydra writes (``multirun.yaml``,
``<job>/.hydra/{config,hydra,overrides}.yaml``) from a template rendered once.  A sweep
over a config group (an override that changes the defaults list) or with Hydra callbacks
falls back to Hydra's basic launcher.  Any installed Hydra launcher plugin (``joblib``,
``submitit_local``, ...) can be named instead; the job body then writes its own result
record and event file in the job's process.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import functools
import itertools
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mushin_nb.errors import (
    JobSkipped,
    MushinFileNotFoundError,
    MushinNotADirectoryError,
    MushinRuntimeError,
    MushinTypeError,
    MushinValueError,
    bad_value,
    describe,
)
from mushin_nb.progress import EVENT_FILE_ENV, EVENT_FILE_NAME, job_context, sweep_progress
from mushin_nb.workflows import _claims, _placement, _ray, _store
from mushin_nb.workflows._multirun import expand_sweep, param_name, parse_override

__all__ = ["FAST", "JobOutcome", "SweepResult", "SweepSpec", "execute", "known_launchers"]

#: Name of the in-process launcher (also what ``launcher=None`` means).
FAST = "mushin"
_DEFAULT_SUBDIR = "${hydra.job.num}"
_SENTINEL_NUM = 918273645
_SENTINELS = {"id": "mushin_sentinel_job_id", "dirname": "mushin_sentinel_dirname",
              "out": "mushin_sentinel_output_dir", "task": "mushin_sentinel_task"}


@dataclass
class SweepSpec:
    """Everything a sweep needs; built by the workflows, consumed by :func:`execute`."""

    config: Any
    body: Callable[[Any], Any]
    overrides: list[str]
    validate: Callable[[Any], None] | None = None
    working_dir: str | os.PathLike | None = None
    launcher: str | None = None
    sweeper: str | None = None
    version_base: Any = "1.1"
    to_dictconfig: bool = False
    config_name: str = "rai_workflow"
    job_name: str = "rai_workflow"
    with_log_configuration: bool = True
    resume: bool = True
    progress: Any = True
    title: str | None = None
    plain: bool = False  # the body takes a dict of parameters (sweep()); no OmegaConf needed
    threads: int = 1  # in-process jobs run at once (threads; no per-job cwd or logging)
    gpus_per_job: float | None = None  # checked by _placement.check_gpus_per_job


@dataclass
class JobOutcome:
    """One grid cell of a finished sweep."""

    index: int
    num: int
    job_dir: Path
    overrides: list[str]
    label: str
    status: str = "pending"  # "done" | "failed" | "skipped" after the sweep
    return_value: Any = None
    error: str | None = None
    traceback_path: Path | None = None
    ran: bool = False
    cfg: Any = None
    duration_s: float | None = None
    existed: bool = False  # found on disk when the sweep was planned
    planned_at: float = field(default_factory=time.time)  # a newer record: another runner's


@dataclass
class SweepResult:
    """What :func:`execute` hands back to the workflow."""

    working_dir: Path
    output_subdir: str | None
    task_overrides: list[str]
    jobs: list[JobOutcome] = field(default_factory=list)
    launcher: str = FAST


# --------------------------------------------------------------------------- job body


def _check_return(value: Any, where: str) -> Any:
    if value is None or isinstance(value, dict):
        return _store.to_numpy(value)
    raise MushinTypeError(
        f"{where} returned {describe(value)}; a task must return a dict of "
        "metrics (name -> number or array) or None. Fix: return e.g. {'acc': acc}")


def run_job_body(body: Callable[[Any], Any], cfg: Any, job_dir: Path, num: int,
                 overrides: Sequence[str], *, write_events: bool,
                 fresh: bool = False, set_env: bool = True) -> dict[str, Any]:
    """Run one job's body and write its record; never raises an ``Exception``.

    ``set_env=False`` leaves ``os.environ`` alone (jobs running in threads share it).
    Returns the final record (``status`` "done", "failed" or "skipped", ``return_value``).
    """
    label = " ".join(o.lstrip("+~") for o in overrides) or "(no overrides)"
    event_file = job_dir / _store.RECORD_DIR / EVENT_FILE_NAME
    started = time.time()
    base = {"num": num, "overrides": list(overrides), "started": started,
            "devices": _placement.visible_devices()}
    if not fresh:  # a re-run job must not keep an old record if it dies before its own
        (job_dir / _store.RECORD_DIR / _store.RECORD_NAME).unlink(missing_ok=True)
    if write_events:
        _store.append_event(event_file, "start")
    previous_env = os.environ.get(EVENT_FILE_ENV)
    if set_env:
        os.environ[EVENT_FILE_ENV] = str(event_file)
    try:
        value = _check_return(body(cfg), f"job {num} ({label})")
    except JobSkipped as exc:  # not a failure: the task chose not to run now
        finished = time.time()
        record = {**base, "status": "skipped", "finished": finished,
                  "duration_s": finished - started, "return_value": None,
                  "error_type": "JobSkipped", "error_message": str(exc) or "skipped"}
    except Exception as exc:  # one job's failure never stops the sweep
        finished = time.time()
        record = {**base, "status": "failed", "finished": finished,
                  "duration_s": finished - started, "return_value": None,
                  **_store.error_record(job_dir, exc, f"job {num} ({label}) in {job_dir}")}
    else:
        finished = time.time()
        record = {**base, "status": "done", "finished": finished,
                  "duration_s": finished - started, "return_value": _store.encode(value)}
    finally:
        if set_env and previous_env is None:
            os.environ.pop(EVENT_FILE_ENV, None)
        elif set_env:
            os.environ[EVENT_FILE_ENV] = previous_env
    _store.write_record(job_dir, record)
    if write_events:
        error = (_error_line(record) if record["status"] == "failed" else
                 record.get("error_message"))  # a skipped job's reason; None when done
        _store.append_event(event_file, "end", status=record["status"], error=error)
    if record["status"] == "done":
        record["return_value"] = value  # the live value (objects the record only reprs)
    return record


def _error_line(record: dict[str, Any]) -> str:
    return f"{record.get('error_type')}: {record.get('error_message')}"


class JobRunner:
    """The task function handed to Hydra launchers (pickled to other processes)."""

    def __init__(self, body: Callable[[Any], Any]) -> None:
        self.body = body

    def __call__(self, cfg: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        hydra = HydraConfig.get()
        run_job_body(self.body, cfg, Path(hydra.runtime.output_dir), int(hydra.job.num),
                     list(hydra.overrides.task), write_events=True)


# --------------------------------------------------------------------------- Hydra set-up


@contextlib.contextmanager
def _preserve_logging() -> Iterator[None]:
    """Undo whatever Hydra's logging set-up does to the caller's loggers (notebooks)."""
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers), list(root.filters), root.disabled)
    manager = logging.Logger.manager
    saved = {name: (lg.level, list(lg.handlers), lg.propagate, lg.disabled)
             for name, lg in manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    try:
        yield
    finally:
        new_handlers = [h for h in root.handlers if h not in saved_root[1]]
        root.setLevel(saved_root[0])
        root.handlers[:] = saved_root[1]
        root.filters[:] = saved_root[2]
        root.disabled = saved_root[3]
        for name, lg in list(manager.loggerDict.items()):
            if not isinstance(lg, logging.Logger):
                continue
            if name in saved:
                level, handlers, propagate, disabled = saved[name]
                new_handlers += [h for h in lg.handlers if h not in handlers]
                lg.setLevel(level)
                lg.handlers[:] = handlers
                lg.propagate, lg.disabled = propagate, disabled
        for handler in new_handlers:
            with contextlib.suppress(Exception):
                handler.close()


@contextlib.contextmanager
def _hydra_session(spec: SweepSpec) -> Iterator[Any]:
    """Store the config, initialise Hydra (restored on exit) and yield the Hydra object."""
    from hydra import initialize
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    config = spec.config
    if spec.to_dictconfig and not OmegaConf.is_config(config):
        config = OmegaConf.create(OmegaConf.to_container(OmegaConf.structured(config)))
    ConfigStore.instance().store(name=spec.config_name, node=config)
    kwargs = {} if isinstance(spec.version_base, type) else {"version_base": spec.version_base}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*version_base.*")
        warnings.filterwarnings("ignore", message=r"(?s).*config_path is not specified.*")
        with initialize(config_path=None, job_name=spec.job_name, **kwargs):
            yield GlobalHydra.instance().hydra


def known_launchers(hydra: Any) -> list[str]:
    """Launcher names: ours plus every ``hydra/launcher`` option Hydra can find."""
    options = hydra.config_loader.get_group_options("hydra/launcher")
    return [FAST, *sorted(options)]


def _compose(hydra: Any, spec: SweepSpec, overrides: list[str]) -> Any:
    from hydra.errors import HydraException
    from hydra.types import RunMode
    from omegaconf.errors import OmegaConfBaseException

    try:
        return hydra.compose_config(spec.config_name, overrides, run_mode=RunMode.MULTIRUN,
                                    with_log_configuration=False)
    except (HydraException, OmegaConfBaseException) as exc:
        message = str(exc).strip().splitlines()
        raise MushinValueError(
            f"`overrides` {overrides!r} do not compose with the workflow's config: "
            f"{' '.join(message)[:400]}. Fix: check the names and values passed to run() "
            "and in `overrides` (use hydra_list([...]) for list values)") from exc


# --------------------------------------------------------------------------- the grid


@dataclass
class _Grid:
    jobs: list[list[str]]
    swept: list[str]  # key elements of swept overrides, in order

    def labels(self) -> list[str]:
        keys = set(self.swept)
        out = []
        for overrides in self.jobs:
            parts = [o.lstrip("+~") for o in overrides if o.split("=", 1)[0] in keys]
            out.append(" ".join(parts) or "job")
        return out


def _grid(hydra: Any, master: Any) -> _Grid:
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
    return _Grid(jobs=jobs, swept=swept)


# --------------------------------------------------------------------------- in-process


@functools.lru_cache(maxsize=1)
def _dumper() -> type:
    """OmegaConf's YAML dumper on libyaml's emitter when available (same output, faster)."""
    import yaml
    from omegaconf._utils import OmegaConfDumper, get_omega_conf_dumper

    base = getattr(yaml, "CDumper", None)
    if base is None:  # pragma: no cover - PyYAML built without libyaml
        return get_omega_conf_dumper()

    class Dumper(base):  # type: ignore[misc, valid-type]
        pass

    Dumper.add_representer(str, OmegaConfDumper.str_representer)
    return Dumper


def _to_yaml(data: Any, width: int = 80) -> str:
    import yaml

    return yaml.dump(data, Dumper=_dumper(), default_flow_style=False, allow_unicode=True,
                     sort_keys=False, width=width)


@functools.lru_cache(maxsize=4096)
def _yaml_scalar(value: str) -> str:
    """A string as one YAML scalar, on one line (it is spliced into a template)."""
    text = _to_yaml(value, width=2**30)
    return text[: -len("\n...\n")] if text.endswith("\n...\n") else text.rstrip("\n")


class _LazyHydraConfig:
    """Stands in for ``HydraConfig.instance().cfg`` during an in-process sweep.

    Updating Hydra's DictConfig for every job costs more than the rest of the job
    together, so the job's fields are applied only when the task reads
    ``HydraConfig.get()`` (or a ``${hydra:...}`` interpolation).
    """

    def __init__(self, cfg: Any) -> None:
        self._cfg = cfg
        self._pending: tuple[int, list[str], str, str] | None = None

    @property
    def hydra(self) -> Any:
        if self._pending is not None:
            from omegaconf import open_dict, read_write

            num, overrides, dirname, output_dir = self._pending
            self._pending = None
            hydra = self._cfg.hydra
            with read_write(hydra), open_dict(hydra):
                hydra.job.num, hydra.job.id = num, str(num)
                hydra.job.override_dirname = dirname
                hydra.runtime.output_dir = output_dir
                hydra.overrides.task = overrides
        return self._cfg.hydra

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cfg, name)

    def __getitem__(self, key: str) -> Any:
        return self.hydra if key == "hydra" else self._cfg[key]


class _FastJobs:
    """Per-job configs and Hydra files from one composition of the sweep's config."""

    def __init__(self, hydra: Any, master: Any, sweep_dir: Path) -> None:
        from hydra.core.hydra_config import HydraConfig

        self.master = master
        self.loader = hydra.config_loader
        self._base: Any = None
        self.sweep_dir = sweep_dir
        self.output_subdir = master.hydra.output_subdir
        self.subdir_expr = master.hydra.sweep._get_node("subdir")._value()
        odn = master.hydra.job.config.override_dirname
        self.odn = (list(odn.exclude_keys), odn.item_sep, odn.kv_sep)
        self.full_compose = False
        self.plain = False
        self.saved_hydra = HydraConfig.instance().cfg
        HydraConfig.instance().set_config(master)  # keeps a copy of master's hydra node
        self.hc = _LazyHydraConfig(HydraConfig.instance().cfg)
        HydraConfig.instance().cfg = self.hc
        self._template = self._render_template()
        self.swept_keys: set[str] = set()

    @property
    def base(self) -> Any:
        """The task config with the fixed overrides applied (made on first use)."""
        if self._base is None:
            from omegaconf import open_dict, read_write

            base = copy.deepcopy(self.master)
            with read_write(base), open_dict(base):
                del base["hydra"]
            self._base = base
        return self._base

    def close(self) -> None:
        from hydra.core.hydra_config import HydraConfig

        HydraConfig.instance().cfg = self.saved_hydra

    def set_sweep_dir(self, path: Path) -> None:
        self.sweep_dir = path
        _set_sweep_dir(self.master, path)
        _set_sweep_dir(self.hc._cfg, path)
        self._template = self._render_template()

    def _render_template(self) -> str:
        from omegaconf import OmegaConf

        tmpl = OmegaConf.to_container(self.hc._cfg, enum_to_str=True)
        job, hydra = tmpl["hydra"]["job"], tmpl["hydra"]
        job["num"], job["id"] = _SENTINEL_NUM, _SENTINELS["id"]
        job["override_dirname"] = _SENTINELS["dirname"]
        hydra["runtime"]["output_dir"] = _SENTINELS["out"]
        hydra["overrides"]["task"] = [_SENTINELS["task"]]
        return _to_yaml(tmpl)

    def task_cfg(self, overrides: Sequence[str]) -> Any:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl

        if self.plain:  # parameters only: a dict, in Hydra's key order, no OmegaConf copy
            return {param_name(o.split("=", 1)[0]): copy.deepcopy(parse_override(o).value())
                    for o in overrides}
        cfg = copy.deepcopy(self.base)
        swept = [parse_override(o) for o in overrides if o.split("=", 1)[0] in self.swept_keys]
        ConfigLoaderImpl._apply_overrides_to_config(swept, cfg)
        return cfg

    def dirname(self, overrides: Sequence[str]) -> str:
        """``hydra.job.override_dirname``, as Hydra's ``get_overrides_dirname`` makes it."""
        exclude, item_sep, kv_sep = self.odn
        lines = sorted(o for o in overrides if parse_override(o).key_or_group not in exclude)
        return item_sep.join(lines).replace("=", kv_sep)

    def job_dir(self, num: int, overrides: Sequence[str]) -> Path:
        if self.subdir_expr == _DEFAULT_SUBDIR:
            return self.sweep_dir / str(num)
        from hydra._internal.config_loader_impl import ConfigLoaderImpl
        from omegaconf import OmegaConf, open_dict, read_write

        if self.full_compose:
            full = self.loader.load_sweep_config(self.master, list(overrides))
        else:
            full = copy.deepcopy(self.master)
            swept = [parse_override(o) for o in overrides
                     if o.split("=", 1)[0] in self.swept_keys]
            ConfigLoaderImpl._apply_overrides_to_config(swept, full)
        with read_write(full.hydra), open_dict(full.hydra):
            full.hydra.job.num, full.hydra.job.id = num, str(num)
            full.hydra.job.override_dirname = self.dirname(overrides)
            full.hydra.overrides.task = list(overrides)
        return self.sweep_dir / str(OmegaConf.select(full, "hydra.sweep.subdir"))

    def enter_job(self, num: int, overrides: Sequence[str], job_dir: Path) -> str:
        """Point HydraConfig at this job (lazily) and return its ``hydra.yaml`` text."""
        dirname = self.dirname(overrides)
        self.hc._pending = (num, list(overrides), dirname, str(job_dir))
        items = [_yaml_scalar(o) for o in overrides]
        text = self._template.replace(str(_SENTINEL_NUM), str(num))
        text = text.replace(_SENTINELS["id"], _yaml_scalar(str(num)))
        text = text.replace(_SENTINELS["dirname"], _yaml_scalar(dirname))
        text = text.replace(_SENTINELS["out"], _yaml_scalar(str(job_dir)))
        task = f"- {_SENTINELS['task']}\n"
        start = text.index(task)
        indent = text[text.rindex("\n", 0, start) + 1:start]
        if items:
            block = "".join(f"- {item}\n{indent}" for item in items)[: -len(indent) or None]
            return text[:start] + block + text[start + len(task):]
        head = text.rindex("task:", 0, start)  # an empty list is written "task: []"
        return text[:head] + "task: []\n" + text[start + len(task):]

    def write_files(self, job_dir: Path, cfg: Any, hydra_yaml: str,
                    overrides: Sequence[str]) -> None:
        from omegaconf import OmegaConf

        _mkdir(job_dir)
        _mkdir(job_dir / _store.RECORD_DIR)
        if self.output_subdir is None:
            return
        out = job_dir / str(self.output_subdir)
        _mkdir(out)
        items = "".join(f"- {_yaml_scalar(o)}\n" for o in overrides) or "[]\n"
        # Hydra writes these in place too; the result record is the atomic source of truth
        data = cfg if isinstance(cfg, dict) else OmegaConf.to_container(cfg, enum_to_str=True)
        (out / "config.yaml").write_text(_to_yaml(data), encoding="utf-8")
        (out / "hydra.yaml").write_text(hydra_yaml, encoding="utf-8")
        (out / "overrides.yaml").write_text(items, encoding="utf-8")


def _mkdir(path: Path) -> None:
    try:
        os.mkdir(path)
    except FileExistsError:
        pass
    except FileNotFoundError:
        path.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _job_logging(enabled: bool, log_file: Path, fmt: str | None) -> Iterator[None]:
    """Log to ``<job>/<job_name>.log`` during the job, as Hydra does, then detach.

    What the caller sees does not change: with no handler of its own, the root logger
    keeps printing warnings to stderr (Python's last resort); with handlers, its level
    is left alone.
    """
    if not enabled:
        yield
        return
    root = logging.getLogger()
    handler = logging.FileHandler(log_file, delay=True, encoding="utf-8")
    handler.setFormatter(logging.Formatter(fmt or "[%(asctime)s][%(name)s][%(levelname)s] - "
                                           "%(message)s"))
    level, bare = root.level, not root.handlers
    added = [handler, logging.lastResort] if bare and logging.lastResort else [handler]
    for h in added:
        root.addHandler(h)
    if bare and (level > logging.INFO or level == logging.NOTSET):
        root.setLevel(logging.INFO)
    try:
        yield
    finally:
        for h in added:
            root.removeHandler(h)
        root.setLevel(level)
        handler.close()


@contextlib.contextmanager
def _in_dir(path: Path, enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _run_fast(spec: SweepSpec, fast: _FastJobs, pending: list[JobOutcome], sink: Any,
              chdir: bool, claims: _claims.Claims) -> None:
    from hydra.core.utils import env_override
    from omegaconf import OmegaConf

    master = fast.master
    env_set = dict(OmegaConf.to_container(master.hydra.job.env_set, resolve=True) or {})
    if spec.threads > 1 and len(pending) > 1:
        with env_override(env_set) if env_set else contextlib.nullcontext():
            _run_threads(spec, fast, pending, sink, claims)
        return
    fmt = OmegaConf.select(master, "hydra.job_logging.formatters.simple.format", default=None)
    log_name = f"{master.hydra.job.name}.log"
    # the working directory is the whole process's: a sweep run from a background thread
    # (a notebook widget's run) must not move the kernel's under the user's feet
    on_main = threading.current_thread() is threading.main_thread()

    def one(job: JobOutcome) -> None:
        cfg = job.cfg if job.cfg is not None else fast.task_cfg(job.overrides)
        job.cfg = cfg
        hydra_yaml = fast.enter_job(job.num, job.overrides, job.job_dir)
        fast.write_files(job.job_dir, cfg, hydra_yaml, job.overrides)
        sink.job_start(job.index)
        with contextlib.ExitStack() as stack:
            stack.enter_context(_in_dir(job.job_dir, chdir and on_main))
            if env_set:
                stack.enter_context(env_override(env_set))
            stack.enter_context(_job_logging(spec.with_log_configuration,
                                             job.job_dir / log_name, fmt))
            stack.enter_context(job_context(job.index, job.job_dir, sink))
            record = run_job_body(spec.body, cfg, job.job_dir, job.num, job.overrides,
                                  write_events=False, fresh=not job.existed)
        claims.release(job.job_dir)
        _finish(job, record)
        _tell_end(sink, job)

    elsewhere = []
    for job in pending:
        if _take(job, claims, sink):
            one(job)
        elif not job.ran:
            elsewhere.append(job)
    _settle(elsewhere, claims, one, sink)


def _take(job: JobOutcome, claims: _claims.Claims, sink: Any) -> bool:
    """Claim ``job``; True when this runner must run it.

    False when another live runner holds it, or when another runner finished it since
    this sweep was planned (then ``job`` has that record and the sink was told).
    """
    if not claims.claim(job.job_dir, num=job.num, overrides=job.overrides):
        return False
    record = _store.read_record(job.job_dir)
    if record is not None and record.get("status") in ("done", "failed", "skipped") and (
            record.get("finished", 0) >= job.planned_at):
        claims.release(job.job_dir)
        _finish(job, record)
        _tell_end(sink, job)
        return False
    return True


def _settle(elsewhere: list[JobOutcome], claims: _claims.Claims,
            run: Callable[[JobOutcome], None], sink: Any) -> None:
    """Wait for the jobs other runners hold; run those whose runner died."""
    by_dir = {job.job_dir: job for job in elsewhere}
    for job_dir, take in _claims.await_jobs(list(by_dir), claims):
        job = by_dir[job_dir]
        if take and _take(job, claims, sink):
            run(job)
        elif not job.ran:
            _finish(job, _store.read_record(job_dir))
            _tell_end(sink, job)


class _LockedSink:
    """A progress sink whose methods run one at a time (jobs in threads share it)."""

    def __init__(self, sink: Any) -> None:
        self._sink = sink
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._sink, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return locked


def _run_threads(spec: SweepSpec, fast: _FastJobs, pending: list[JobOutcome],
                 sink: Any, claims: _claims.Claims) -> None:
    """Run up to ``spec.threads`` jobs at once in threads of this process, in job order.

    The process-wide state a job would change (cwd, root logger, ``os.environ``,
    ``HydraConfig``) is left alone: a task finds its directory with
    ``mushin_nb.progress.current_job().job_dir``.
    """
    from concurrent.futures import ThreadPoolExecutor

    locked = _LockedSink(sink)
    prepare = threading.Lock()  # _FastJobs renders one job's files at a time

    elsewhere: list[JobOutcome] = []

    def one(job: JobOutcome, settling: bool = False) -> None:
        if not settling and not _take(job, claims, locked):
            if not job.ran:
                elsewhere.append(job)
            return
        with prepare:
            cfg = job.cfg if job.cfg is not None else fast.task_cfg(job.overrides)
            job.cfg = cfg
            hydra_yaml = fast.enter_job(job.num, job.overrides, job.job_dir)
            fast.write_files(job.job_dir, cfg, hydra_yaml, job.overrides)
        locked.job_start(job.index)
        # contextvars do not flow into pool threads: each job sets its own context here
        with job_context(job.index, job.job_dir, locked):
            record = run_job_body(spec.body, cfg, job.job_dir, job.num, job.overrides,
                                  write_events=False, fresh=not job.existed, set_env=False)
        claims.release(job.job_dir)
        _finish(job, record)
        _tell_end(locked, job)

    with ThreadPoolExecutor(max_workers=min(spec.threads, len(pending)),
                            thread_name_prefix="mushin-job") as pool:
        futures = [pool.submit(one, job) for job in pending]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in futures:  # jobs not started yet stay pending (resume runs them)
                future.cancel()
            raise
    _settle(elsewhere, claims, functools.partial(one, settling=True), locked)


def _tell_end(sink: Any, job: JobOutcome) -> None:
    """Tell the progress sink how ``job`` ended, with a failure's error or a skip's reason."""
    text = job.error if job.status in ("failed", "skipped") else None
    if job.status == "skipped" and text:
        text = text.removeprefix("skipped: ")
    sink.job_end(job.index, job.status, text)


def _finish(job: JobOutcome, record: dict[str, Any] | None) -> None:
    job.ran = True
    if record is None or record.get("status") not in ("done", "failed", "skipped"):
        job.status = "failed"
        job.error = ("MushinRuntimeError: the job ended without a result record "
                     "(its process died or was killed)")
        return
    job.status = record["status"]
    job.return_value = record.get("return_value")
    job.duration_s = record.get("duration_s")
    if job.status == "skipped":
        job.error = f"skipped: {record.get('error_message') or 'no reason given'}"
    if job.status == "failed":
        job.error = _error_line(record)
        job.traceback_path = Path(record["traceback_path"]) if record.get(
            "traceback_path") else None


# --------------------------------------------------------------------------- Hydra plugins


@contextlib.contextmanager
def _worker_sys_path() -> Iterator[None]:
    """Let worker processes import what the caller can (modules found via sys.path)."""
    previous = os.environ.get("PYTHONPATH")
    entries = [os.path.abspath(p or os.curdir) for p in sys.path if not p.endswith(".zip")]
    if previous:
        entries.append(previous)
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(entries))
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous


def _run_plugin(spec: SweepSpec, hydra: Any, master: Any, pending: list[JobOutcome],
                sink: Any, claims: _claims.Claims) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.plugins import Plugins
    from hydra.core.utils import setup_globals
    from hydra.types import HydraContext

    try:
        from hydra._internal.callbacks import Callbacks
    except ImportError:  # pragma: no cover - moved in later Hydra versions
        from hydra.core.callbacks import Callbacks

    def watch(jobs: list[JobOutcome]) -> None:
        for job in jobs:
            event_file = job.job_dir / _store.RECORD_DIR / EVENT_FILE_NAME
            event_file.unlink(missing_ok=True)  # a resumed job starts a fresh event stream
            sink.watch(job.index, str(event_file))

    saved = HydraConfig.instance().cfg
    previous_cwd = os.getcwd()
    with _preserve_logging(), _worker_sys_path():
        try:
            setup_globals()
            HydraConfig.instance().set_config(master)
            callbacks = Callbacks(master)
            callbacks.on_multirun_start(config=master, config_name=spec.config_name)
            launcher = Plugins.instance().instantiate_launcher(
                hydra_context=HydraContext(config_loader=hydra.config_loader,
                                           callbacks=callbacks),
                task_function=JobRunner(spec.body), config=master)

            def launch(block: list[JobOutcome]) -> None:
                watch(block)
                launcher.launch([job.overrides for job in block],
                                initial_job_idx=block[0].num)
                for job in block:
                    claims.release(job.job_dir)
                    _finish(job, _store.read_record(job.job_dir))
                    _tell_end(sink, job)

            mine = [job for job in pending if _take(job, claims, sink)]
            for block in _contiguous(mine):
                launch(block)
            taken = {id(job) for job in mine}
            _settle([job for job in pending if id(job) not in taken and not job.ran], claims,
                    lambda job: launch([job]), sink)
            callbacks.on_multirun_end(config=master, config_name=spec.config_name)
        finally:
            HydraConfig.instance().cfg = saved
            os.chdir(previous_cwd)


def _contiguous(jobs: list[JobOutcome]) -> list[list[JobOutcome]]:
    """Split jobs into runs of consecutive job numbers (a launcher numbers from a start)."""
    blocks: list[list[JobOutcome]] = []
    for job in sorted(jobs, key=lambda j: j.num):
        if blocks and blocks[-1][-1].num + 1 == job.num:
            blocks[-1].append(job)
        else:
            blocks.append([job])
    return blocks


# --------------------------------------------------------------------------- working dir


def _user_sweep_dir(overrides: Sequence[str]) -> bool:
    return any(o.split("=", 1)[0].lstrip("+~") == "hydra.sweep.dir" for o in overrides)


def _check_dir(path: Path, arg: str) -> Path:
    path = path.expanduser().resolve()
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.is_dir():
            raise bad_value(arg, str(path), "a directory (or a path that does not exist yet)",
                            f"{parent} is a file: choose another working_dir",
                            MushinNotADirectoryError)
    return path


def _default_dir() -> Path:
    now = datetime.datetime.now()
    return Path.cwd() / "multirun" / now.strftime("%Y-%m-%d") / now.strftime("%H-%M-%S")


def _claim(path: Path) -> Path:
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


def _set_sweep_dir(master: Any, path: Path) -> None:
    from omegaconf import open_dict, read_write

    with read_write(master.hydra), open_dict(master.hydra):
        master.hydra.sweep.dir = str(path)
        lines = [o for o in master.hydra.overrides.hydra
                 if o.split("=", 1)[0] != "hydra.sweep.dir"]
        master.hydra.overrides.hydra = [*lines, f"hydra.sweep.dir={_quote_path(path)}"]


def _quote_path(path: Path) -> str:
    from hydra.core.override_parser.types import Quote, QuotedString

    return QuotedString(text=str(path), quote=Quote.single).with_quotes()


# --------------------------------------------------------------------------- the sweep


def _plain_overrides(master: Any) -> bool:
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


def _touches_defaults(hydra: Any, master: Any, grid: _Grid) -> bool:
    """True when a swept override selects config-group options (changes the defaults list)."""
    repo = hydra.config_loader.repository
    for key in grid.swept:
        override = parse_override(f"{key}=x")
        name = override.key_or_group
        if override.package is not None or repo.group_exists(name):
            return True
    return bool(master.hydra.callbacks)


def execute(spec: SweepSpec) -> SweepResult:
    """Run (or resume) the sweep described by ``spec``; failures are recorded, not raised.

    Raises
    ------
    MushinError
        For bad input, always before any job runs.
    """
    from hydra import version
    from omegaconf import OmegaConf

    if spec.sweeper not in (None, "basic"):
        raise bad_value("sweeper", spec.sweeper, "None or 'basic' (a grid sweep)",
                        "leave sweeper=None; use multirun([...]) values for the grid")
    user_dir = spec.working_dir is not None or _user_sweep_dir(spec.overrides)
    if spec.working_dir is not None:
        sweep_dir = _check_dir(Path(spec.working_dir), "working_dir")
    else:
        sweep_dir = _default_dir()
    hydra_overrides = [] if _user_sweep_dir(spec.overrides) and spec.working_dir is None else [
        f"hydra.sweep.dir={_quote_path(sweep_dir)}"]
    name = spec.launcher or FAST
    with _hydra_session(spec) as hydra:
        if not isinstance(name, str) or name not in known_launchers(hydra):
            raise bad_value("launcher", spec.launcher, f"one of {known_launchers(hydra)}",
                            "pass launcher=None for the fast in-process launcher, or install "
                            "the Hydra launcher plugin you named")
        gpus = _placement.check_gpus_per_job(spec.gpus_per_job, spec.launcher, spec.threads)
        if name != FAST:
            hydra_overrides.append(f"hydra/launcher={name}")
        overrides = _ray.normalize_overrides([*spec.overrides, *hydra_overrides,
                                              *_placement.gpu_overrides(gpus, name)])
        master = _compose(hydra, spec, overrides)
        if spec.working_dir is None and _user_sweep_dir(spec.overrides):
            sweep_dir = _check_dir(Path(str(master.hydra.sweep.dir)), "overrides")
        grid = _grid(hydra, master)
        if name == FAST and _touches_defaults(hydra, master, grid):
            name = "basic"
        chdir = master.hydra.job.chdir
        if chdir is None:
            chdir = not version.base_at_least("1.2")
        fast = _FastJobs(hydra, master, sweep_dir)
        stack = contextlib.ExitStack()
        try:
            fast.swept_keys = set(grid.swept)
            fast.full_compose = name != FAST
            fast.plain = name == FAST and spec.plain and _plain_overrides(master)
            # every job's config before any job runs: a bad value fails the sweep up front
            cfgs = [_job_cfg(fast, overrides) for overrides in grid.jobs] if name == FAST else [
                _full_cfg(hydra, master, grid.jobs[0])]
            if spec.validate is not None:
                spec.validate(cfgs[0])
            if name == "ray":  # before anything is written: Ray must answer, with the GPUs
                stack.enter_context(_worker_sys_path())  # Ray's workers start now
                stack.enter_context(_ray.ray_session(master, gpus))
            if not user_dir:
                claimed = _claim(sweep_dir)
                if claimed != sweep_dir:
                    sweep_dir = claimed
                    fast.set_sweep_dir(claimed)
            sweep_dir.mkdir(parents=True, exist_ok=True)
            result = SweepResult(sweep_dir, master.hydra.output_subdir,
                                 list(OmegaConf.to_container(master.hydra.overrides.task)),
                                 launcher=name)
            result.jobs = _plan_jobs(grid, fast, sweep_dir, master.hydra.output_subdir)
            if name == FAST:
                for job, cfg in zip(result.jobs, cfgs):
                    job.cfg = cfg
            _store.write_text_atomic(sweep_dir / "multirun.yaml", OmegaConf.to_yaml(master))
            _run(spec, hydra, master, fast, result, name, chdir)
        finally:
            stack.close()
            fast.close()
    return result


def _job_cfg(fast: _FastJobs, overrides: list[str]) -> Any:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        return fast.task_cfg(overrides)
    except (HydraException, OmegaConfBaseException) as exc:
        message = " ".join(str(exc).split())
        raise MushinValueError(
            f"the job with overrides {overrides} does not compose with the workflow's config: "
            f"{message[:300]}. Fix: pass values of the type the config declares") from exc


def _full_cfg(hydra: Any, master: Any, overrides: list[str]) -> Any:
    from omegaconf import open_dict

    cfg = hydra.config_loader.load_sweep_config(master, list(overrides))
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def _plan_jobs(grid: _Grid, fast: _FastJobs, sweep_dir: Path,
               output_subdir: str | None) -> list[JobOutcome]:
    """Match grid cells to jobs already on disk; number the new ones after them."""
    existing = _store.scan_jobs(sweep_dir, output_subdir) if sweep_dir.exists() else {}
    next_num = max((job.num for job in existing.values()), default=-1) + 1
    jobs = []
    for index, (overrides, label) in enumerate(zip(grid.jobs, grid.labels())):
        found = existing.get(tuple(sorted(overrides)))
        if found is not None:
            num, job_dir, status = found.num, found.job_dir, found.status
        else:
            num, status = next_num, "pending"
            next_num += 1
            job_dir = fast.job_dir(num, overrides)
        job = JobOutcome(index=index, num=num, job_dir=job_dir, overrides=list(overrides),
                         label=label, existed=found is not None or job_dir.exists())
        job.status = "done" if status == "done" else "pending"
        jobs.append(job)
    return jobs


def _run(spec: SweepSpec, hydra: Any, master: Any, fast: _FastJobs, result: SweepResult,
         name: str, chdir: bool) -> None:
    sink = sweep_progress(spec.progress)
    sink.start([job.label for job in result.jobs], spec.title or f"sweep {result.working_dir.name}")
    ok = False
    try:
        pending = []
        for job in result.jobs:
            record = _store.read_record(job.job_dir) if job.status == "done" else None
            if spec.resume and record is not None and record.get("status") == "done":
                _claims.clear_stale(job.job_dir)  # left by a runner killed after the job
                job.status = "done"
                job.return_value = record.get("return_value")
                job.duration_s = record.get("duration_s")
                sink.job_end(job.index, "skipped")
            else:
                job.status = "pending"
                pending.append(job)
        with _claims.Claims() as claims:
            if name == FAST:
                _run_fast(spec, fast, pending, sink, chdir, claims)
            elif pending:
                _run_plugin(spec, hydra, master, pending, sink, claims)
        ok = all(job.status in ("done", "skipped") for job in result.jobs)
    finally:
        sink.close(ok)
    if name != FAST or any(job.cfg is None for job in result.jobs):
        for job in result.jobs:
            if job.cfg is None:
                job.cfg = fast.task_cfg(job.overrides) if name == FAST else _load_cfg(
                    job.job_dir, result.output_subdir)


def _load_cfg(job_dir: Path, output_subdir: str | None) -> Any:
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
