"""Validation of what a Study is given (methods, seeds, data, checkpoints...), before it trains."""

from __future__ import annotations

import numbers
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinNotADirectoryError,
    MushinTypeError,
    bad_value,
)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def _check_methods(methods: Any, arg: str = "methods") -> dict[str, str]:
    """Return method name -> path-safe slug (the value swept by Hydra)."""
    training = arg == "methods"
    if not isinstance(methods, Mapping) or not methods:
        raise bad_value(arg, methods, "a non-empty dict of name -> " + (
            "train_fn(seed)" if training else "checkpoint paths"),
            "e.g. methods={'cnn': train_cnn, 'mlp': train_mlp}" if training
            else "e.g. checkpoints={'cnn': ['cnn0.pt', 'cnn1.pt']}", MushinTypeError)
    slugs: dict[str, str] = {}
    for name, fn in methods.items():
        if not isinstance(name, str) or not name.strip():
            raise bad_value(arg, name, "keyed by non-empty str method names",
                            "name each method, e.g. {'cnn': ...}", MushinTypeError)
        if training and not callable(fn):
            raise bad_value(f"methods[{name!r}]", fn, "a callable train_fn(seed) -> path",
                            "pass the function itself, not its result", MushinTypeError)
        slug = _SAFE_NAME.sub("_", name).strip("._") or "method"
        clash = [other for other, s in slugs.items() if s.lower() == slug.lower()]
        if clash:
            raise bad_value(arg, name, f"a name distinct from {clash[0]!r} once made safe "
                            f"for paths (both become {slug!r})", "rename one of them")
        slugs[name] = slug
    return slugs


def _check_seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, (str, bytes, Mapping)) or not isinstance(seeds, Iterable):
        raise bad_value("seeds", seeds, "a list of ints", "e.g. seeds=[0, 1, 2]", MushinTypeError)
    seeds = list(seeds)
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise bad_value("seeds", seeds, "a list of ints", f"{seed!r} is not an int",
                            MushinTypeError)
    out = [int(seed) for seed in seeds]
    if not out:
        raise bad_value("seeds", seeds, "a non-empty list of ints", "e.g. seeds=[0, 1, 2]")
    dup = sorted({seed for seed in out if out.count(seed) > 1})
    if dup:
        raise bad_value("seeds", seeds, "unique ints", f"remove the repeated seed(s) {dup}")
    return out


def _check_data(data: Any) -> None:
    if data is None:
        raise bad_value("data", data, "a re-iterable of (inputs, targets) batches",
                        "pass a DataLoader, e.g. data=test_loader", MushinTypeError)
    if isinstance(data, (str, bytes)) or not (isinstance(data, Iterable)
                                              or hasattr(data, "__getitem__")):
        raise bad_value("data", data, "a re-iterable of (inputs, targets) batches",
                        "pass a DataLoader or a list of batches", MushinTypeError)
    # no iter(data) here: a DataLoader with workers would start them
    if isinstance(data, Iterator):
        raise bad_value("data", data, "re-iterable (every model makes one pass over it)",
                        "pass a DataLoader or list(batches), not a generator or iterator",
                        MushinTypeError)


def _check_num_classes(num_classes: Any) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise bad_value("num_classes", num_classes, "a positive int", "e.g. num_classes=10",
                        MushinTypeError)
    if num_classes < 1:
        raise bad_value("num_classes", num_classes, "a positive int", "e.g. num_classes=10")
    return int(num_classes)


def _check_evaluation(num_classes: int, task: Any, test: Any, alpha: Any, ignore_index: Any,
                      metrics: Any, predict_fn: Any) -> None:
    """Check what compare() will be given, so that no training runs for a doomed study."""
    from mushin_nb import stats
    from mushin_nb.metrics import Battery

    stats.check_settings(test, alpha)
    Battery(num_classes, task=task, metrics=metrics, ignore_index=ignore_index)
    if predict_fn is not None and not callable(predict_fn):
        raise bad_value("predict_fn", predict_fn, "a callable (model, inputs) -> probabilities",
                        "or leave predict_fn=None for the task's default", MushinTypeError)


def _check_working_dir(working_dir: Any) -> Path:
    if not isinstance(working_dir, (str, os.PathLike)):
        raise bad_value("working_dir", working_dir, "a path", "e.g. working_dir='experiments/a'",
                        MushinTypeError)
    path = Path(working_dir).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise bad_value("working_dir", str(working_dir), "a directory (it is a file)",
                        "pick another path or move the file", MushinNotADirectoryError)
    return path


def _check_checkpoints(checkpoints: Any) -> tuple[dict[str, dict[int, str]], list[int]]:
    """Return method -> seed -> absolute checkpoint path, and the sorted seeds of them all."""
    _check_methods(checkpoints, "checkpoints")
    table: dict[str, dict[int, str]] = {}
    seeds: list[int] | None = None
    for method, paths in checkpoints.items():
        arg = f"checkpoints[{method!r}]"
        if isinstance(paths, Mapping):
            by_seed = dict(zip(_check_seeds(list(paths)), paths.values()))
        elif isinstance(paths, (str, bytes, os.PathLike)) or not isinstance(paths, Iterable):
            raise bad_value(arg, paths, "a list of checkpoint paths or a dict seed -> path",
                            f"e.g. checkpoints={{{method!r}: ['a.pt', 'b.pt']}}",
                            MushinTypeError)
        else:
            by_seed = dict(enumerate(paths))
        if len(by_seed) < 2:
            raise bad_value(arg, paths, "at least 2 checkpoint paths (seeds), since a test "
                            "needs a spread over seeds", "list one checkpoint per seed")
        for seed, path in by_seed.items():
            if not isinstance(path, (str, os.PathLike)) or not Path(path).is_file():
                shown = str(path) if isinstance(path, os.PathLike) else path
                raise bad_value(f"{arg}[{seed}]", shown, "an existing checkpoint file",
                                "check the path", MushinFileNotFoundError)
        table[method] = {seed: str(Path(p).resolve()) for seed, p in by_seed.items()}
        seeds = sorted(set(seeds or []) | set(by_seed))
    return table, seeds or [0]
