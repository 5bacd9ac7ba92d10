"""One notebook run as one sweep job: parameters in as literals, recorded values out.

Three pieces, used by :mod:`mushin_nb.batch`:

- the record format: ``mushin_nb.record()`` displays a bundle of mimetype
  :data:`RECORD_MIME` (name -> JSON value; arrays as nested lists with dtype and shape,
  non-finite floats spelled out) that :func:`read_records` reads back from the executed
  notebook, as scrapbook does;
- the parameter contract: :func:`notebook_parameters` lists the names assigned in the cell
  tagged ``parameters`` and :func:`literal` admits only values papermill translates to
  literals (never its ``str(value)`` fallback);
- :class:`NotebookJob`, the picklable task a sweep runs: it executes the notebook with
  papermill in the job's directory, with the job's event file in the kernel's environment.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import keyword
import logging
import math
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mushin_nb.errors import (
    MushinRuntimeError,
    MushinSyntaxError,
    MushinTypeError,
    MushinValueError,
    bad_value,
)

__all__ = [
    "RECORD_MIME",
    "NotebookJob",
    "check_name",
    "decode",
    "encode",
    "literal",
    "normalize",
    "notebook_parameters",
    "read_records",
]

#: Mimetype of the display output that carries recorded values inside a notebook.
RECORD_MIME = "application/vnd.mushin.record+json"
#: Name under which our papermill engine (nbclient with a kernel environment) is registered.
ENGINE_NAME = "mushin_nb"

_ARRAY_KINDS = "biufU"  # bool, int, uint, float, unicode: what a Dataset can hold
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# ---------------------------------------------------------------------------- record format


def _builtin(value: Any) -> Any:
    """The exact built-in of a scalar: a subclass (IntEnum, np.float64) may print as code."""
    for base in (bool, int, float, str):
        if isinstance(value, base):
            return base(value)
    return value


def normalize(name: str, value: Any) -> Any:
    """Return ``value`` as a recordable value: a Python scalar, a list, or a numpy array.

    Numpy scalars become Python scalars, tuples become lists, tensors become arrays.

    Raises
    ------
    MushinTypeError
        When the value is none of str, int, float, bool, None, a list or an array of them.

    Examples
    --------
    >>> import numpy as np
    >>> normalize("acc", np.float32(0.5)), normalize("xs", (1, 2))
    (0.5, [1, 2])
    """
    import numpy as np

    if isinstance(value, np.generic):  # before float: np.float64 subclasses it
        return normalize(name, value.item())
    if value is None or isinstance(value, (bool, int, float, str)):
        return _builtin(value)
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without torch
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _ARRAY_KINDS:
            raise bad_value(f"record({name}=...)", value, "an array of bool, int, float or str",
                            f"convert it first, e.g. record({name}=x.astype(float))",
                            MushinTypeError)
        return value
    if isinstance(value, (list, tuple)):
        return [normalize(name, item) for item in value]
    raise bad_value(f"record({name}=...)", value,
                    "a scalar (str, int, float, bool, None), a list or an array",
                    "record plain numbers, strings, lists or numpy arrays", MushinTypeError)


def encode(value: Any) -> Any:
    """Encode a normalized value as JSON-safe data (strict JSON: no NaN literals).

    Examples
    --------
    >>> import numpy as np
    >>> encode(np.array([1.0, np.nan]))
    {'__ndarray__': [1.0, {'__float__': 'nan'}], 'dtype': 'float64', 'shape': [2]}
    """
    import numpy as np

    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if isinstance(value, np.ndarray):
        return {"__ndarray__": encode(value.tolist()), "dtype": str(value.dtype),
                "shape": list(value.shape)}
    if isinstance(value, list):
        return [encode(item) for item in value]
    return value


def decode(data: Any) -> Any:
    """Invert :func:`encode`.

    Examples
    --------
    >>> decode({'__ndarray__': [[1, 2]], 'dtype': 'int64', 'shape': [1, 2]})
    array([[1, 2]])
    """
    import numpy as np

    if isinstance(data, Mapping):
        if "__float__" in data:
            return float(data["__float__"])
        if "__ndarray__" in data:
            flat = decode(data["__ndarray__"])
            return np.array(flat, dtype=data["dtype"]).reshape(data["shape"])
        raise MushinValueError(f"unknown record encoding {sorted(data)!r}: expected "
                               f"'__float__' or '__ndarray__' keys. Fix: record with this "
                               f"version of mushin_nb")
    if isinstance(data, list):
        return [decode(item) for item in data]
    return data


def read_records(nb: Any) -> dict[str, Any]:
    """Return the values recorded in an executed notebook (a later record of a name wins).

    Parameters
    ----------
    nb : nbformat.NotebookNode or dict
        The executed notebook, as papermill returns it or ``nbformat.read`` loads it.
    """
    records: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(RECORD_MIME)
            if isinstance(payload, str):  # some writers keep +json bundles as text
                import json

                payload = json.loads(payload)
            if isinstance(payload, Mapping):
                records.update({name: decode(value) for name, value in payload.items()})
    return records


# ---------------------------------------------------------------------- parameter contract


def _cell_code(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)  # magics -> plain Python


def notebook_parameters(nb: Any, path: str | os.PathLike = "notebook") -> list[str]:
    """Names assigned at top level of the notebook's cell tagged ``parameters``, in order.

    ``nb`` is a notebook as nbformat reads it or as plain JSON (``json.load``).

    Raises
    ------
    MushinValueError
        When no cell is tagged ``parameters``.
    MushinSyntaxError
        When that cell is not valid Python.
    """
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get(
                "tags", []):
            source = cell.get("source", "")
            source = source if isinstance(source, str) else "".join(source)  # on-disk lines
            break
    else:
        raise MushinValueError(
            f"`path` must be a notebook with a code cell tagged 'parameters', got "
            f"{str(path)!r} (no such cell). Fix: in Jupyter, add the tag 'parameters' to the "
            f"cell that assigns the notebook's defaults (View > Cell tags)")
    try:
        tree = ast.parse(_cell_code(source))
    except SyntaxError as exc:
        raise MushinSyntaxError(f"the 'parameters' cell of {str(path)!r} is not valid Python "
                                f"({exc.msg}, line {exc.lineno}). Fix: make it plain "
                                f"assignments such as `lr = 0.1`") from None
    names: list[str] = []
    for node in tree.body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign))
                   else [])
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name) and sub.id not in names:
                    names.append(sub.id)
    return names


def check_name(name: Any) -> str:
    """Return ``name`` if it can be a notebook parameter (a Python identifier)."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise bad_value("parameters", name, "keyed by Python identifiers (the parameter names)",
                        "use the variable names of the notebook's 'parameters' cell",
                        MushinValueError if isinstance(name, str) else MushinTypeError)
    return name


def literal(arg: str, value: Any) -> Any:
    """Return ``value`` as str/int/float/bool/None or a list/dict of them, else raise.

    Papermill writes these types as literals; anything else it would write as
    ``str(value)``, i.e. as code, which is never allowed.

    Examples
    --------
    >>> literal("lr", (0.1, 0.2))
    [0.1, 0.2]
    """
    import numpy as np

    if isinstance(value, np.generic) and value.dtype.kind in _ARRAY_KINDS:
        return value.item()  # before float: papermill would write np.float64 as code
    if value is None or isinstance(value, (bool, int, float, str)):
        return _builtin(value)
    if isinstance(value, (list, tuple)):
        return [literal(f"{arg}[{i}]", item) for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise bad_value(arg, value, "a dict with str keys", "use str keys",
                                MushinTypeError)
            out[key] = literal(f"{arg}[{key!r}]", item)
        return out
    if type(value).__module__.startswith("omegaconf"):  # a sweep's ListConfig / DictConfig
        from omegaconf import OmegaConf

        return literal(arg, OmegaConf.to_container(value, resolve=True))
    raise bad_value(arg, value, "a literal: str, int, float, bool, None, or a list/dict of them",
                    "pass the value itself; a notebook parameter is never code",
                    MushinTypeError)


# ----------------------------------------------------------------------------- execution


class _CheckedParameters(logging.Filter):
    """Drop papermill's regex-based parameter warnings: our own check already parsed the cell."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(("Passed unknown parameter",
                                                   "Unable to parse line"))


@functools.lru_cache(maxsize=1)
def _register_engine() -> str:
    """Register papermill's nbclient engine, able to start the kernel with an env and cwd."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger

    class _Engine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False,
                                     stdout_file=None, stderr_file=None, start_timeout=60,
                                     execution_timeout=None, kernel_launch=None, **kwargs):
            kwargs.pop("input_path", None)
            client = PapermillNotebookClient(
                nb_man, timeout=execution_timeout, startup_timeout=start_timeout,
                kernel_name=kernel_name, log=logger, log_output=log_output,
                stdout_file=stdout_file, stderr_file=stderr_file, **kwargs)
            return client.execute(**(kernel_launch or {}))  # reaches KernelManager.start_kernel

    papermill_engines.register(ENGINE_NAME, _Engine)
    for name in ("papermill", "papermill.translators"):  # filters do not propagate to children
        logging.getLogger(name).addFilter(_CheckedParameters())
    return ENGINE_NAME


def _job_dir() -> Path:
    """The directory of the running sweep job (the working dir outside a sweep)."""
    from mushin_nb.progress import current_job

    ctx = current_job()
    if ctx is not None and ctx.job_dir is not None:
        return Path(ctx.job_dir)
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except (ImportError, ValueError):
        return Path.cwd()


def _failure(exc: Any, nb_path: Path, out_path: Path) -> MushinRuntimeError:
    """Describe a failed cell by its index in the source notebook and in the executed one."""
    import nbformat

    cell = exc.cell_index
    try:  # papermill inserts one cell; give the user the index they see in their notebook
        cells = nbformat.read(out_path, as_version=4).cells
        injected = next((i for i, c in enumerate(cells)
                         if "injected-parameters" in c.get("metadata", {}).get("tags", [])), None)
    except (OSError, ValueError):
        injected = None
    source_cell = cell - 1 if injected is not None and cell > injected else cell
    error = MushinRuntimeError(
        f"notebook {nb_path.name} failed in cell {source_cell} (In [{exc.exec_count}]): "
        f"{exc.ename}: {exc.evalue} (executed notebook kept at {out_path})")
    trace = _ANSI.sub("", "\n".join(exc.traceback or []))
    if trace and hasattr(error, "add_note"):  # the job's traceback file shows the cell's
        error.add_note(f"Traceback in the notebook:\n{trace}")
    return error


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Hold a logger at WARNING: papermill's per-notebook INFO lines would flood a sweep."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


class NotebookJob:
    """The task of a batch sweep: execute one notebook with papermill, return its records.

    Picklable (it holds only paths and options), so process launchers can ship it.

    Parameters
    ----------
    path : path-like
        The source notebook.
    kernel_name : str
        Jupyter kernel to run it on.
    timeout : float, optional
        Seconds one cell may run before the job fails.
    language : str, optional
        The notebook's language, for a notebook whose metadata does not say it.
    """

    def __init__(self, path: str | os.PathLike, kernel_name: str = "python3",
                 timeout: float | None = None, language: str | None = None) -> None:
        self.path = Path(path).resolve()
        self.kernel_name = kernel_name
        self.timeout = timeout
        self.language = language

    def __call__(self, **params: Any) -> dict[str, Any]:
        """Run the notebook with ``params`` in the current job's directory."""
        import papermill
        from nbclient.exceptions import CellTimeoutError, DeadKernelError
        from papermill.exceptions import PapermillExecutionError

        from mushin_nb.progress import EVENT_FILE_ENV, EVENT_FILE_NAME, current_job

        params = {check_name(k): literal(f"parameters[{k!r}]", v) for k, v in params.items()}
        where = _job_dir()
        meta = where / ".mushin"
        meta.mkdir(parents=True, exist_ok=True)
        events = meta / EVENT_FILE_NAME
        ctx = current_job()
        if ctx is not None and ctx.sink is not None:  # in-process job, kernel in another process
            events.unlink(missing_ok=True)  # a re-run job starts a fresh event stream
            ctx.sink.watch(ctx.index, str(events))
        out_path = where / self.path.name
        with open(meta / "kernel.log", "ab") as log, _quiet("papermill"):
            # the kernel's own chatter goes to the job's kernel.log, not the console
            launch = {"env": {**os.environ, EVENT_FILE_ENV: str(events)}, "cwd": str(where),
                      "stdout": log, "stderr": log}
            try:
                nb = papermill.execute_notebook(
                    str(self.path), str(out_path), parameters=params,
                    engine_name=_register_engine(), kernel_name=self.kernel_name,
                    language=self.language, progress_bar=False, execution_timeout=self.timeout,
                    kernel_launch=launch)
            except PapermillExecutionError as exc:
                raise _failure(exc, self.path, out_path) from None
            except (CellTimeoutError, DeadKernelError) as exc:
                raise MushinRuntimeError(
                    f"notebook {self.path.name} stopped: {type(exc).__name__}: "
                    f"{str(exc).strip().splitlines()[0]} (executed notebook kept at {out_path})"
                ) from None
        return read_records(nb)

    def __repr__(self) -> str:
        return f"NotebookJob({str(self.path)!r}, kernel_name={self.kernel_name!r})"
