"""The in-process launcher: compose the sweep's config once, run every job in this process.

Hydra's basic sweeper and launcher compose the whole config again for every job
(~0.1 s each).  Here the sweep's config is composed once with Hydra's own config
loader, each job's value overrides are applied to a copy of it (Hydra's own override
code), and the files Hydra writes (``<job>/.hydra/{config,hydra,overrides}.yaml``) come
from a template rendered once.  Jobs run one at a time (in the job's directory, logging
to its log file, as Hydra does) or several at once in threads.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mushin_nb.errors import MushinValueError
from mushin_nb.progress import job_context
from mushin_nb.workflows._claims import Claims, settle, take
from mushin_nb.workflows._jobs import JobOutcome, SweepSpec, finish, run_job_body, tell_end
from mushin_nb.workflows._multirun import param_name, parse_override
from mushin_nb.workflows._plan import set_sweep_dir
from mushin_nb.workflows._store import RECORD_DIR

__all__ = ["FastJobs", "job_cfg", "run_fast"]

_DEFAULT_SUBDIR = "${hydra.job.num}"
_SENTINEL_NUM = 918273645
_SENTINELS = {"id": "mushin_sentinel_job_id", "dirname": "mushin_sentinel_dirname",
              "out": "mushin_sentinel_output_dir", "task": "mushin_sentinel_task"}


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


class FastJobs:
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
        set_sweep_dir(self.master, path)
        set_sweep_dir(self.hc._cfg, path)
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
        _mkdir(job_dir / RECORD_DIR)
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


def run_fast(spec: SweepSpec, fast: FastJobs, pending: list[JobOutcome], sink: Any,
             chdir: bool, claims: Claims) -> None:
    """Run the ``pending`` jobs here: in turn, or in threads when ``spec.threads > 1``."""
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
        finish(job, record)
        tell_end(sink, job)

    elsewhere = []
    for job in pending:
        if take(job, claims, sink):
            one(job)
        elif not job.ran:
            elsewhere.append(job)
    settle(elsewhere, claims, one, sink)


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


def _run_threads(spec: SweepSpec, fast: FastJobs, pending: list[JobOutcome],
                 sink: Any, claims: Claims) -> None:
    """Run up to ``spec.threads`` jobs at once in threads of this process, in job order.

    The process-wide state a job would change (cwd, root logger, ``os.environ``,
    ``HydraConfig``) is left alone: a task finds its directory with
    ``mushin_nb.progress.current_job().job_dir``.
    """
    from concurrent.futures import ThreadPoolExecutor

    locked = _LockedSink(sink)
    prepare = threading.Lock()  # FastJobs renders one job's files at a time

    elsewhere: list[JobOutcome] = []

    def one(job: JobOutcome, settling: bool = False) -> None:
        if not settling and not take(job, claims, locked):
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
        finish(job, record)
        tell_end(locked, job)

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
    settle(elsewhere, claims, functools.partial(one, settling=True), locked)


def job_cfg(fast: FastJobs, overrides: list[str]) -> Any:
    """A job's task config; one that does not compose is a MushinValueError, up front."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        return fast.task_cfg(overrides)
    except (HydraException, OmegaConfBaseException) as exc:
        message = " ".join(str(exc).split())
        raise MushinValueError(
            f"the job with overrides {overrides} does not compose with the workflow's config: "
            f"{message[:300]}. Fix: pass values of the type the config declares") from exc

