"""The main job (``mushin-nb demo``, ``make demo``): is a small CNN really better than an MLP?

:func:`main` runs a :class:`~mushin_nb.study.Study` of a two-convolution network against a
one-hidden-layer perceptron on the ``digits`` data that ships with scikit-learn (8x8
images, 10 classes), 5 seeds each, on the CPU, then compares them with Welch's test and
Holm's correction. Into ``out`` it writes ``results.nc`` (the per-seed scores),
``comparisons.csv``, ``summary.csv`` (also printed), ``summary.png``, ``pvalues.png``,
``seeds.png`` and ``report.html`` (the same three figures, interactive). The study itself
(sweep and checkpoints) lives in ``out/study`` (``out/study-quick`` for a quick run):
running the demo again trains nothing.

``main(krum=True)`` is the second demo: distributed SGD with Byzantine workers whose
gradients cancel the honest ones, aggregated by ``average``, ``median`` or ``krum``
(:mod:`mushin_nb.experiments`), compared across seeds, written to ``runs/demo-krum``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["main", "train_digits", "train_byzantine"]

DEFAULT_OUT = "runs/demo"
#: Worker count and Byzantine count of the Krum demo (Krum needs n >= 2f + 3).
WORKERS, BYZANTINE = 11, 3
#: The metrics of a quick run (each metric costs a panel in every figure).
QUICK_METRICS = ("accuracy", "ece")


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Tiny models train faster on one thread; several jobs may share the machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _save(model: Any, path: Path) -> Path:
    """``torch.save`` to a temporary name, then rename: a checkpoint is whole or absent."""
    import torch

    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        torch.save(model, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _test_loader() -> Any:
    from mushin_nb.experiments import digits_loaders

    # the split is fixed (seed 0): every method and seed is scored on the same 450 images
    return digits_loaders(batch_size=450, seed=0)[1]


def train_digits(arch: str, seed: int, *, epochs: int = 8, lr: float = 1e-2,
                 batch_size: int = 64, folder: str | os.PathLike | None = None) -> Path:
    """Train ``"cnn"`` or ``"mlp"`` on the digits training split; return its checkpoint.

    The seed sets the initial weights and the order of the batches; the train/test split
    is the same for every seed. The whole model (``torch.nn.Sequential`` of torch.nn
    layers, which loads safely with ``weights_only=True``) is saved in ``folder``, by
    default :func:`mushin_nb.study.checkpoint_dir`.

    Examples
    --------
    >>> import tempfile
    >>> train_digits("mlp", seed=0, epochs=1, folder=tempfile.mkdtemp()).name
    'mlp_seed0.pt'
    """
    import torch

    from mushin_nb.experiments import digits_tensors
    from mushin_nb.experiments.zoo import digits_cnn, digits_mlp
    from mushin_nb.progress import report
    from mushin_nb.study import checkpoint_dir

    builders = {"cnn": lambda: digits_cnn(channels=16), "mlp": lambda: digits_mlp(hidden=64)}
    x, y = digits_tensors(train=True, seed=0)
    order = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y),
                                         batch_size=batch_size, shuffle=True, generator=order)
    with _one_thread(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = builders[arch]()
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        for epoch in range(epochs):
            total = 0.0
            for inputs, targets in loader:
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(inputs), targets)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(targets)
            report(step=epoch + 1, total=epochs, loss=total / len(x))
    folder = checkpoint_dir() if folder is None else Path(folder)
    return _save(model.eval(), folder / f"{arch}_seed{seed}.pt")


def train_byzantine(rule: str, seed: int, *, steps: int = 150, lr: float = 0.5,
                    batch_size: int = 32, workers: int = WORKERS, byzantine: int = BYZANTINE,
                    folder: str | os.PathLike | None = None) -> Path:
    """Distributed SGD on digits where ``byzantine`` of ``workers`` gradients are attacks.

    Each step, every honest worker computes the gradient of the flat parameter vector on
    its own batch; the Byzantine workers send the honest mean reversed and scaled so that
    the sum of all gradients is zero (averaging then never moves the model); the server
    aggregates all ``workers`` gradients with ``rule`` (``"average"``,
    ``"median"``, ``"krum"``) and takes an SGD step. Returns the checkpoint path (in
    ``folder``, by default :func:`mushin_nb.study.checkpoint_dir`).

    Examples
    --------
    >>> import tempfile
    >>> train_byzantine("krum", seed=0, steps=2, folder=tempfile.mkdtemp()).name
    'krum_seed0.pt'
    """
    import torch

    from mushin_nb.experiments import Configuration, Dataset, Loss, Model, Optimizer, aggregators
    from mushin_nb.progress import report
    from mushin_nb.study import checkpoint_dir

    aggregate = aggregators[rule]
    with _one_thread():
        model = Model("digits-mlp", Configuration("cpu"), hidden=32, seed=seed)
        trainset = Dataset("digits", train=True, batch_size=batch_size, seed=seed)
        loss, optimizer = Loss("crossentropy"), Optimizer("sgd", model, lr=lr)
        for step in range(steps):
            honest = [model.backprop(trainset, loss).clone() for _ in range(workers - byzantine)]
            # the f attacks cancel the n - f honest gradients: their sum is zero
            attack = torch.stack(honest).mean(dim=0) * (-(workers - byzantine) / byzantine)
            gradient = aggregate(honest + [attack] * byzantine, f=byzantine)
            model.update(gradient, optimizer)
            if (step + 1) % 10 == 0 or step + 1 == steps:
                report(step=step + 1, total=steps)
    folder = checkpoint_dir() if folder is None else Path(folder)
    return _save(model.module.eval(), folder / f"{rule}_seed{seed}.pt")


def _write(path: Path, write: Callable[[Path], Any]) -> None:
    """Write through ``write(tmp)`` and rename, so an earlier file survives a failure."""
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _figures(result: Any, out: Path) -> list[Path]:
    from mushin_nb.plots import plot_pvalues, plot_seeds, plot_summary

    plots = {"summary": plot_summary, "pvalues": plot_pvalues, "seeds": plot_seeds}
    written = []
    for name, plot in plots.items():
        figure = plot(result, backend="matplotlib")
        _write(out / f"{name}.png", lambda tmp, f=figure: f.savefig(tmp, format="png", dpi=110))
        written.append(out / f"{name}.png")
    return [*written, _report(result, out)]


def _report(result: Any, out: Path) -> Path:
    """Write ``report.html``: the three figures, one metric selector, working offline."""
    import holoviews as hv

    from mushin_nb.plots import plot_pvalues, plot_seeds, plot_summary, standalone_html

    plots = (plot_summary, plot_pvalues, plot_seeds)
    page = standalone_html(hv.Layout([plot(result, backend="hvplot") for plot in plots]).cols(1),
                           title="mushin_nb demo")
    _write(out / "report.html", lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    return out / "report.html"


def _study(krum: bool, seeds: int, quick: bool, working_dir: Path) -> Any:
    from mushin_nb.study import Study

    if krum:
        steps = 30 if quick else 150
        methods = {rule: functools.partial(train_byzantine, rule, steps=steps)
                   for rule in ("average", "median", "krum")}
    else:
        epochs = 2 if quick else 8
        methods = {arch: functools.partial(train_digits, arch, epochs=epochs)
                   for arch in ("cnn", "mlp")}
    return Study(methods, seeds=list(range(seeds)), data=_test_loader(), num_classes=10,
                 test="welch", alpha=0.05, working_dir=working_dir,
                 metrics=QUICK_METRICS if quick else None)


def main(out: str | os.PathLike = DEFAULT_OUT, seeds: int = 5, quick: bool = False,
         krum: bool = False) -> int:
    """Run the demo study and write its results, tables and figures to ``out``.

    Parameters
    ----------
    out : str or os.PathLike
        Output directory (created). With ``krum=True`` the default becomes
        ``runs/demo-krum``.
    seeds : int
        Seeds per method (at least 2; ``quick`` uses at most 3).
    quick : bool
        A smoke run of the whole pipeline: much shorter trainings, at most 3 seeds, and
        only the metrics ``QUICK_METRICS``.
    krum : bool
        Run the Byzantine-robust aggregation demo instead of CNN vs MLP.

    Returns
    -------
    int
        0 when every training succeeded, 1 when some (method, seed) pairs failed (the
        comparison then uses the seeds present).
    """
    import pandas as pd

    from mushin_nb.errors import MushinTypeError, bad_value

    if isinstance(seeds, bool) or not isinstance(seeds, int):
        raise bad_value("seeds", seeds, "an int", "use e.g. seeds=5", MushinTypeError)
    if seeds < 2:
        raise bad_value("seeds", seeds, "at least 2 (a test needs two seeds per method)",
                        "use e.g. seeds=5")
    if krum and Path(out) == Path(DEFAULT_OUT):
        out = DEFAULT_OUT + "-krum"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # a quick run trains differently: it must never be resumed as a full one, or vice versa
    study = _study(krum, min(seeds, 3) if quick else seeds, quick,
                   out / ("study-quick" if quick else "study"))
    result = study.run()
    _write(out / "results.nc", result.to_netcdf)
    _write(out / "comparisons.csv", lambda tmp: result.comparisons.to_csv(tmp, index=False))
    summary = result.summary()
    _write(out / "summary.csv", lambda tmp: summary.to_csv(tmp, index=False))
    figures = _figures(result, out)
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print(summary.to_string(index=False))
    print(f"* = differs from {result.reference!r} after Holm correction "
          f"({result.test} test, alpha={result.alpha:g}, {len(study.seeds)} seeds)")
    if study.missing:
        print("missing (training failed): " + ", ".join(f"{m}/seed={s}" for m, s in study.missing))
    print(f"written to {out.resolve()}: results.nc, comparisons.csv, summary.csv, "
          + ", ".join(path.name for path in figures))
    return 1 if study.missing else 0


#: The quickstart notebook, present in a checkout of the repository (not in a wheel).
QUICKSTART = Path(__file__).resolve().parents[1] / "notebooks" / "01_quickstart.ipynb"


def run_quickstart(out: str | os.PathLike = DEFAULT_OUT, seeds: int = 5,
                   quick: bool = False) -> int:
    """Run ``notebooks/01_quickstart.ipynb`` as a one-job batch sweep, writing to ``out``.

    The notebook trains and compares CNN vs MLP on digits and writes ``results.nc``,
    ``comparisons.csv``, ``summary.csv`` and figures to ``out``; the executed notebook is
    copied there too.  Without the notebook (an installed wheel), :func:`main` runs the
    same study directly.  Re-running resumes: a finished run executes nothing.

    Returns
    -------
    int
        0 on success, 1 when the notebook failed (its executed copy names the cell).
    """
    import shutil

    from mushin_nb.batch import sweep_notebook

    if not QUICKSTART.is_file():
        return main(out=out, seeds=seeds, quick=quick)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    params = {"out": str(out), "seeds": min(seeds, 3) if quick else seeds,
              "epochs": 2 if quick else 8}
    workflow = sweep_notebook(QUICKSTART, params,
                              working_dir=out / ("batch-quick" if quick else "batch"))
    executed = sorted(Path(workflow.working_dir).glob(f"*/{QUICKSTART.name}"))
    if executed:
        shutil.copyfile(executed[0], out / QUICKSTART.name)
    for failure in workflow.failures:
        print(f"quickstart notebook failed: {failure.error}")
        return 1
    if (out / "results.nc").is_file():
        import pandas as pd

        from mushin_nb.compare import BenchmarkResult

        result = BenchmarkResult.load(out / "results.nc")
        _report(result, out)  # the notebook wrote the static figures; add the interactive page
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            print(result.summary().to_string(index=False))
    print(f"written to {out}: " + ", ".join(sorted(p.name for p in out.iterdir())))
    return 0

