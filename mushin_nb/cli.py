"""The ``mushin-nb`` command: parse the command line, call the library, print the outcome.

``mushin-nb batch NB -p lr=0.1,0.01 -p seed=range(0,5) --jobs 2 -o results.nc`` runs a
notebook as a sweep (:func:`mushin_nb.batch.run_notebook`), ``mushin-nb show results.nc``
prints a saved result, ``mushin-nb demo`` runs the demo study.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mushin_nb.errors import MushinError, MushinSyntaxError

__all__ = ["main", "parse_parameters"]


def parse_parameters(items: Sequence[str]) -> dict[str, Any]:
    """Turn ``-p`` items in Hydra's override grammar into ``run_notebook`` parameters.

    ``lr=0.1,0.01`` and ``seed=range(0,3)`` are swept (``multirun``), ``name=value`` is
    fixed.  Values are parsed by Hydra's grammar, never evaluated.

    Examples
    --------
    >>> params = parse_parameters(["lr=0.1,0.01", "seed=range(0,3)", "tag='a,b'"])
    >>> params["lr"], params["seed"], params["tag"]
    ([0.1, 0.01], [0, 1, 2], 'a,b')
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Override
    from hydra.errors import HydraException

    from mushin_nb.workflows import multirun

    parser = OverridesParser.create()
    params: dict[str, Any] = {}
    for item in items:
        try:
            override = parser.parse_override(item)
        except HydraException as exc:
            raise MushinSyntaxError(
                f"`-p` must be name=value in Hydra's override grammar, got {item!r}: "
                f"{str(exc).splitlines()[0]}. Fix: e.g. -p lr=0.1,0.01 -p seed=range(0,5) "
                f"-p tag=\"'a b'\"") from None
        name = override.key_or_group
        if override.package is not None or override.type.name != "CHANGE" or name in params:
            raise MushinSyntaxError(f"`-p` must set each parameter once as name=value, got "
                                    f"{item!r}. Fix: drop +/~/@ and repeated names")
        if override.is_sweep_override():
            if not override.is_discrete_sweep() or getattr(override.value(), "shuffle", False):
                raise MushinSyntaxError(f"`-p` sweeps must list values in order, got {item!r}."
                                        f" Fix: use a,b,c or range(start,stop[,step])")
            # quoted items come back as QuotedString: Hydra's own conversion makes them str
            params[name] = multirun(list(override.sweep_iterator(Override._convert_value)))
        else:
            params[name] = override.value()
    return params


def _batch(args: argparse.Namespace) -> int:
    from mushin_nb.batch import sweep_notebook
    from mushin_nb.results import save_netcdf

    workflow = sweep_notebook(args.notebook, parse_parameters(args.param),
                              working_dir=args.working_dir, jobs=args.jobs,
                              kernel_name=args.kernel, resume=args.resume,
                              timeout=args.timeout, progress=args.progress,
                              launcher=args.launcher, gpus_per_job=args.gpus_per_job)
    if args.output:
        save_netcdf(workflow.to_xarray(), args.output)
    failures = workflow.failures
    for failure in failures:
        print(f"failed: {failure}", file=sys.stderr)
    total = len(workflow.jobs)
    print(f"mushin-nb batch: {Path(args.notebook).name}: {total} jobs, "
          f"{total - len(failures)} done, {len(failures)} failed; "
          f"working dir {workflow.working_dir}"
          + (f"; results {args.output}" if args.output else ""))
    return 1 if failures else 0


def _show(args: argparse.Namespace) -> int:
    from mushin_nb.results import load_results

    ds = load_results(args.path)
    print(ds)
    if {"method", "seed"} <= set(ds.dims):
        from mushin_nb.compare import BenchmarkResult
        from mushin_nb.errors import MushinValueError

        result = None
        if Path(args.path).is_file():
            try:  # a file written by BenchmarkResult.to_netcdf keeps its own statistics
                result = BenchmarkResult.load(args.path)
            except MushinValueError:
                pass
        if result is None:  # a plain (method, seed) Dataset: run the default statistics
            result = BenchmarkResult.from_dataset(ds)
        print()
        print(repr(result))
    return 0


def _demo(args: argparse.Namespace) -> int:
    import importlib

    try:  # import_module consults sys.modules first, as `from mushin_nb import _demo` need not
        _demo = importlib.import_module("mushin_nb._demo")
    except ModuleNotFoundError as exc:
        if exc.name != "mushin_nb._demo":
            raise
        print("mushin-nb demo: this installation has no demo (mushin_nb._demo is missing). "
              "Fix: install mushin_nb from the repository (`make demo`).", file=sys.stderr)
        return 2
    options = {"seeds": args.seeds, "quick": args.quick, "krum": args.krum}
    if args.out is not None:  # else the demo's own default (which depends on --krum)
        options["out"] = args.out
    # the main job is the quickstart notebook, run through the batch machinery
    code = _demo.main(**options) if args.krum else _demo.run_quickstart(
        **{k: v for k, v in options.items() if k != "krum"})
    return code if isinstance(code, int) else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mushin-nb", description="Multi-seed studies and notebook sweeps on Hydra.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    batch = commands.add_parser("batch", help="run a parameterized notebook as a sweep",
                                description="Run NOTEBOOK once per combination of the swept "
                                            "-p values (papermill), gather what it records.")
    batch.add_argument("notebook", help="notebook with a cell tagged 'parameters'")
    batch.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                       help="a parameter, Hydra grammar: lr=0.1,0.01 (swept), "
                            "seed=range(0,5) (swept), tag=base (fixed); repeatable")
    batch.add_argument("--jobs", type=int, default=1, help="notebooks run at once (processes)")
    batch.add_argument("-o", "--output", help="write the results Dataset to this NetCDF file")
    batch.add_argument("--working-dir", help="sweep directory (re-use it to resume)")
    batch.add_argument("--kernel",
                       help="Jupyter kernel name (default: the notebook's, else python3)")
    batch.add_argument("--no-resume", dest="resume", action="store_false",
                       help="re-run every job even if already done")
    batch.add_argument("--timeout", type=float, help="seconds one cell may run")
    batch.add_argument("--launcher", help="Hydra launcher: joblib, ray, submitit_slurm... "
                                          "(default: in-process)")
    batch.add_argument("--gpus-per-job", type=float, metavar="N",
                       help="GPUs per notebook (launcher ray or submitit_*; 0.5 shares one)")
    batch.add_argument("--no-progress", dest="progress", action="store_false",
                       help="no live progress bar")
    batch.set_defaults(run=_batch)

    show = commands.add_parser("show", help="print a saved result (.nc)")
    show.add_argument("path", help="NetCDF file written by batch -o or a Study")
    show.set_defaults(run=_show)

    demo = commands.add_parser("demo", help="run the demo study on the digits data")
    demo.add_argument("--out", help="output directory (default: runs/demo)")
    demo.add_argument("--seeds", type=int, default=5, help="seeds per method")
    demo.add_argument("--quick", action="store_true", help="a smaller, faster run")
    demo.add_argument("--krum", action="store_true",
                      help="the Byzantine-robust aggregation demo instead")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mushin-nb`` command line; return its exit code.

    0: success; 1: some job failed; 2: bad command line or bad input (message on stderr).
    """
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except MushinError as exc:
        print(f"mushin-nb {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # python -m mushin_nb.cli
    sys.exit(main())
