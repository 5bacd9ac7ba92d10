"""A notebook cell run as a sweep task, and the sweeps it left reloaded and compared.

:func:`run_cell_sweep` runs the cell body once per job through the sweep engine, with the
job's parameters bound as variables over a copy of the notebook's namespace, and returns
the sweep's ``xarray.Dataset``. :func:`load_sweep` and :func:`compare_sweep` serve
``%mushin load`` and ``%mushin compare``.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import keyword
import linecache
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mushin_nb.errors import MushinRuntimeError, MushinSyntaxError, MushinTypeError, bad_value

__all__ = ["CELL_FILE", "compare_sweep", "load_sweep", "run_cell_sweep"]

#: File in the sweep's working dir that keeps the cell the results came from.
CELL_FILE = "mushin_cell.py"


def _cell_syntax_error(exc: SyntaxError, source: str) -> MushinSyntaxError:
    lines = source.splitlines() or [""]
    lineno = max(exc.lineno or 1, 1)
    text = lines[min(lineno, len(lines)) - 1]
    column = max((exc.offset or 1) - 1, 0)
    err = MushinSyntaxError(
        f"The %%mushin cell does not compile, line {lineno}, column {column + 1}: {exc.msg}\n"
        f"    {text}\n    {' ' * column}^\nFix: correct the cell; no job was run")
    err.offset, err.text = column + 1, text  # no lineno: str() would repeat it
    return err


class _CellTask:
    """The cell body as a sweep task: ``task(**params) -> metrics | None``.

    Each job runs the body in a fresh dict: a copy of the notebook's namespace with the
    job's parameters on top, so the notebook is read but never written.  The metrics are
    the values given to ``record()``, updated by the last expression when it is a dict.
    Pickling (for launchers that run jobs in other processes) sends the source and the
    namespace entries that pickle.
    """

    def __init__(self, source: str, namespace: Mapping[str, Any]) -> None:
        self.source, self.namespace = source, namespace
        self.unsent: frozenset[str] = frozenset()
        self._compile()

    def _compile(self) -> None:
        digest = hashlib.sha1(self.source.encode()).hexdigest()[:12]
        self.filename = f"<%%mushin cell {digest}>"
        try:
            tree = ast.parse(self.source, self.filename)
        except SyntaxError as exc:
            raise _cell_syntax_error(exc, self.source) from None
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        self.body = compile(tree, self.filename, "exec")
        self.last = (None if last is None
                     else compile(ast.Expression(last.value), self.filename, "eval"))
        # lets tracebacks of failed jobs quote the cell's lines
        lines = self.source.splitlines(keepends=True)
        linecache.cache[self.filename] = (len(self.source), None, lines, self.filename)

    def __call__(self, **params: Any) -> dict[str, Any] | None:
        from mushin_nb.progress import current_job, job_context

        scope = dict(self.namespace)
        scope.update(params)
        job = current_job()
        # another process has no job context: open one so that record() has a place
        with contextlib.nullcontext(job) if job is not None else job_context(0) as job:
            try:
                exec(self.body, scope)
                value = None if self.last is None else eval(self.last, scope)
            except NameError as exc:
                if exc.name in self.unsent:
                    raise MushinRuntimeError(
                        f"`{exc.name}` is defined in the notebook but could not be sent to "
                        "the launcher's worker process (it does not pickle). Fix: create it "
                        "inside the cell, or run with the in-process launcher") from exc
                raise
            metrics = dict(job.records)
        if isinstance(value, Mapping):
            metrics.update(value)
        return metrics or None

    def __getstate__(self) -> dict[str, Any]:
        try:
            import cloudpickle as pickler  # by value: functions defined in the notebook
        except ImportError:  # pragma: no cover - cloudpickle ships with the launchers
            import pickle as pickler
        sent, unsent = {}, set()
        for name, value in self.namespace.items():
            if name.startswith("_") or name in _SHELL_NAMES:
                continue
            try:
                sent[name] = pickler.dumps(value)
            except Exception:  # a socket, a lock, an open file: reported if the cell uses it
                unsent.add(name)
        return {"source": self.source, "sent": sent, "unsent": unsent}

    def __setstate__(self, state: dict[str, Any]) -> None:
        import pickle

        self.source = state["source"]
        self.namespace = {name: pickle.loads(blob) for name, blob in state["sent"].items()}
        self.unsent = frozenset(state["unsent"])
        self._compile()


#: Names IPython puts in every user namespace; they mean nothing in another process.
_SHELL_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


def _check_out(out: Any) -> str | None:
    if out is None:
        return None
    if not isinstance(out, str) or not out.isidentifier() or keyword.iskeyword(out):
        raise bad_value("out", out, "a Python identifier", "e.g. out='ds'")
    return out


def _check_cell_file(working_dir: Any, source: str, resume: bool) -> None:
    """Warn when resuming results that an edited cell did not compute."""
    if working_dir is None or not resume:
        return
    stored = Path(working_dir) / CELL_FILE
    if stored.is_file() and stored.read_text(encoding="utf-8") != source:
        warnings.warn(
            f"The cell differs from the one that computed the results kept in "
            f"{working_dir}; jobs already done are not re-run. Fix: use --no-resume (or "
            "resume=False) to recompute them, or a new --working-dir", UserWarning,
            stacklevel=3)


def _keep_cell(working_dir: Path, source: str) -> None:
    from mushin_nb.workflows._store import write_text_atomic

    write_text_atomic(Path(working_dir) / CELL_FILE, source)


def run_cell_sweep(source: str, params: Mapping[str, Any], *, namespace: Mapping[str, Any],
                   out: str | None = None, working_dir: str | os.PathLike | None = None,
                   launcher: str | None = None, resume: bool = True,
                   raise_on_failure: bool = False, progress: Any = True,
                   gpus_per_job: float | None = None) -> Any:
    """Run ``source`` once per job of the grid ``params``; return the sweep's Dataset.

    Parameters
    ----------
    source : str
        Python code (the cell body).  Each job runs it with its parameters bound as
        variables over a copy of ``namespace``.  Its metrics are the last expression when
        that is a dict, and the values given to ``mushin_nb.record(name=value)``.
    params : Mapping
        Name -> value; values wrapped in ``multirun([...])`` are swept (see
        :func:`parse_sweep_line`).
    namespace : Mapping
        The names the cell can read (a notebook's ``user_ns``); never modified, except
        that ``namespace[out]`` receives the Dataset when ``out`` is given.
    out : str, optional
        Name to store the Dataset under in ``namespace``.
    working_dir, launcher, resume, raise_on_failure, progress, gpus_per_job
        As in :func:`mushin_nb.workflows.sweep`: where the sweep is kept (a new unique
        dir by default), the Hydra launcher (default: in-process), re-run only jobs without
        a successful record, raise ``SweepFailedError`` when a job failed, the display,
        the GPUs each job gets.

    Returns
    -------
    xarray.Dataset
        Dimensions: the swept names, in the order given; one variable per metric; fixed
        parameters in ``attrs``; NaN for a failed job.

    Examples
    --------
    >>> import tempfile
    >>> from mushin_nb.workflows import multirun
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     ds = run_cell_sweep("{'y': scale * x}", {"x": multirun([1, 2]), "scale": 10},
    ...                         namespace={}, working_dir=tmp, progress=False)
    mushin_nb: 2 jobs in ...: 2 done
    >>> ds["y"].values.tolist()
    [10, 20]
    """
    from mushin_nb.workflows import sweep

    if not isinstance(source, str):
        raise bad_value("source", source, "a str of Python code", "pass the cell's text",
                        MushinTypeError)
    if not isinstance(params, Mapping):
        raise bad_value("params", params, "a mapping name -> value",
                        "use parse_sweep_line(line)[0]", MushinTypeError)
    if not isinstance(namespace, Mapping):
        raise bad_value("namespace", namespace, "a mapping of names",
                        "pass get_ipython().user_ns, or {}", MushinTypeError)
    out = _check_out(out)
    task = _CellTask(source, namespace)
    _check_cell_file(working_dir, source, resume)
    title = "%%mushin " + " x ".join(params) if params else "%%mushin"
    workflow = sweep(task, dict(params), working_dir=working_dir, launcher=launcher,
                     resume=resume, raise_on_failure=raise_on_failure, progress=progress,
                     title=title, gpus_per_job=gpus_per_job)
    _keep_cell(workflow.working_dir, source)
    ds = workflow.to_xarray()
    if out is not None:
        namespace[out] = ds  # type: ignore[index]
    return ds


# ----------------------------------------------------------------------------- results


def load_sweep(working_dir: str | os.PathLike) -> Any:
    """Reload a finished (or interrupted) sweep's Dataset from its directory, no task code.

    Parameters
    ----------
    working_dir : str or Path
        The sweep's directory (``--working-dir``, or the one the sweep reported).

    Returns
    -------
    xarray.Dataset
        The same Dataset the sweep returned.
    """
    from mushin_nb.workflows import load_from_dir

    return load_from_dir(working_dir).to_xarray()


def compare_sweep(ds: Any, over: str = "seed", by: str | None = None, test: str = "welch",
                  alpha: float = 0.05) -> Any:
    """Significance tests on a sweep Dataset: methods along ``by``, replicates along ``over``.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep result with a replicate dimension (``over``).
    over : str
        The dimension whose values are independent repeats (seeds).
    by : str, optional
        The dimension whose values are the methods compared; default the one other
        dimension.
    test : str
        ``welch`` (default), ``student``, ``mannwhitney``, ``wilcoxon``, ``paired-t``,
        ``permutation``.
    alpha : float
        Significance level, after Holm correction.

    Returns
    -------
    BenchmarkResult
        ``.summary()``, ``.comparisons``, ``.data`` (dims ``(method, seed)``).
    """
    import xarray as xr

    from mushin_nb.compare import compare_dataset

    if not isinstance(ds, xr.Dataset):
        raise bad_value("ds", ds, "an xarray.Dataset (a sweep result)",
                        "pass what %%mushin stored, e.g. _mushin", MushinTypeError)
    return compare_dataset(ds, over=over, by=by, test=test, alpha=alpha)
