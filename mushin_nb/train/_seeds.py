"""train_seeds(): one model per seed, trained all at once where the model allows it."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from mushin_nb.errors import MushinRuntimeError, MushinTypeError, bad_value
from mushin_nb.progress import report
from mushin_nb.stats import MushinWarning
from mushin_nb.stats._rng import check_seeds
from mushin_nb.train._data import Stream, as_training_data
from mushin_nb.train._loop import (
    NotVectorizable,
    Outcome,
    Settings,
    probe,
    train_one,
    train_stacked,
)
from mushin_nb.train._optim import check_optimizer
from mushin_nb.train._stack import (
    check_same_structure,
    chunk_size,
    free_memory,
    memory_per_seed,
)

__all__ = ["LOSSES", "SeedModels", "build_models", "check_seeds", "train_seeds"]

log = logging.getLogger("mushin_nb.train")

#: Loss names accepted by ``loss=`` (else a callable ``loss(outputs, targets) -> scalar``).
LOSSES: dict[str, str] = {"cross_entropy": "cross_entropy", "nll": "nll_loss", "mse": "mse_loss"}


class SeedModels(dict):
    """The trained models by seed (a dict), and how their training went.

    Attributes
    ----------
    curves : dict[int, list[float]]
        Each seed's mean training loss per epoch.
    failures : dict[int, MushinRuntimeError]
        Seeds whose loss became NaN (with the epoch); they have no model.
    vectorized : bool
        Whether the seeds were trained together.
    note : str
        What was chosen and why (loop, chunks of seeds).
    """

    def __init__(self) -> None:
        super().__init__()
        self.curves: dict[int, list[float]] = {}
        self.failures: dict[int, MushinRuntimeError] = {}
        self.vectorized = False
        self.note = ""


def build_models(build: Any, seeds: list[int]) -> dict[int, nn.Module]:
    """``build()`` once per seed, under the global RNG forked and seeded with the seed."""
    if not callable(build):
        raise bad_value("build", build, "a function () -> nn.Module", "e.g. build=digits_mlp",
                        MushinTypeError)
    models = {}
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build()
        if not isinstance(model, nn.Module):
            raise bad_value("build", build, f"a function that returns an nn.Module (it returned"
                            f" {type(model).__name__})", "return the model from build()",
                            MushinTypeError)
        models[seed] = model
    return models


def _loss_fn(loss: Any) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if callable(loss):
        return loss
    if not isinstance(loss, str) or loss not in LOSSES:
        raise bad_value("loss", loss, f"one of {list(LOSSES)} or a callable (outputs, targets) "
                        "-> scalar", "e.g. loss='cross_entropy'")
    return getattr(torch.nn.functional, LOSSES[loss])


def _check_options(epochs: Any, vectorize: Any, max_parallel: Any, progress: Any) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise bad_value("epochs", epochs, "a positive int", "e.g. epochs=5")
    if vectorize not in (True, False, "auto") or isinstance(vectorize, int) and \
            not isinstance(vectorize, bool):
        raise bad_value("vectorize", vectorize, "True, False or 'auto'", "e.g. vectorize='auto'")
    if max_parallel is not None and (isinstance(max_parallel, bool) or not isinstance(
            max_parallel, int) or max_parallel < 1):
        raise bad_value("max_parallel", max_parallel, "None or a positive int",
                        "e.g. max_parallel=4")
    if progress is not None and progress is not False and not callable(progress):
        raise bad_value("progress", progress, "None, False or a callable (seed, epoch, "
                        "epochs, loss)", "e.g. progress=None", MushinTypeError)


def _device(device: Any) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise bad_value("device", device, "a torch device", "e.g. device='cpu'") from error


def _reporter(progress: Any, k: int, epochs: int) -> Callable[[int, int, float], None]:
    if progress is False:
        return lambda seed, epoch, loss: None
    if callable(progress):
        return lambda seed, epoch, loss: progress(seed, epoch, epochs, loss)
    done = [0]

    def to_job(seed: int, epoch: int, loss: float) -> None:  # the running job's monitor
        done[0] += 1
        report(step=done[0], total=k * epochs, **{f"loss_seed{seed}": loss})

    return to_job


def train_seeds(build: Callable[[], nn.Module], data: Any, seeds: Iterable[int], *,
                epochs: int, lr: float = 1e-3, optimizer: str = "adam",
                weight_decay: float = 0.0, momentum: float = 0.0,
                loss: str | Callable[..., torch.Tensor] = "cross_entropy",
                batch_size: int | None = None, device: Any = None,
                vectorize: bool | str = "auto", max_parallel: int | None = None,
                progress: Any = None) -> SeedModels:
    """Train one model per seed; all seeds at once over stacked parameters where possible.

    Seed ``s`` decides everything random of its model: the initial weights (``build()``
    runs under the global RNG forked and seeded with ``s``), its batch order and its
    dropout masks (two generators of its own). ``vectorize=False`` is the reference loop,
    one seed after another with a torch.optim optimizer; ``True`` trains the seeds in one
    loop over stacked parameters (``torch.func.stack_module_state``, ``functional_call``,
    ``vmap``) with an optimizer equal to k torch.optim ones: the same weights to float
    tolerance. ``"auto"`` vectorizes unless the data is not a map-style dataset of
    tensors or vmap cannot run the model, and then says why (a MushinWarning).

    Parameters
    ----------
    build : callable () -> nn.Module
        Builds one untrained model; it must build the same structure for every seed.
    data : DataLoader or map-style Dataset of (inputs, targets)
        A DataLoader keeps its batch size, ``drop_last`` and shuffling (each seed shuffles
        in its own order); other iterables are trained on one seed after another.
    seeds : iterable of int
        Unique seeds.
    epochs : int
        Passes over the data.
    lr, optimizer, weight_decay, momentum
        ``"adam"``, ``"adamw"`` or ``"sgd"`` (``momentum`` for SGD), torch.optim defaults.
    loss : {"cross_entropy", "nll", "mse"} or callable
        ``loss(outputs, targets) -> scalar``, averaged over the batch.
    batch_size : int, optional
        For a Dataset (default 64); a DataLoader's own batch size wins when not given.
    device : str or torch.device, optional
        Default: CUDA when available, else the CPU.
    vectorize : True, False or "auto"
    max_parallel : int, optional
        At most this many seeds are trained together (on CUDA also what fits in memory).
    progress : None, False or callable
        ``None``: ``report(step=..., loss_seed<s>=...)`` to the running sweep job after each
        seed's epoch; a callable is called ``progress(seed, epoch, epochs, loss)``.

    Returns
    -------
    SeedModels
        A dict seed -> trained model (seeds whose loss became NaN are left out and listed
        in ``.failures``), with ``.curves``, ``.vectorized`` and ``.note``.

    Examples
    --------
    >>> from mushin_nb.experiments.digits import digits_loaders
    >>> from mushin_nb.experiments.zoo import digits_mlp
    >>> train, _ = digits_loaders(batch_size=128)
    >>> models = train_seeds(digits_mlp, train, seeds=[0, 1], epochs=1, vectorize=True)
    >>> sorted(models), models.vectorized, len(models.curves[0])
    ([0, 1], True, 1)
    """
    seeds = check_seeds(seeds)
    _check_options(epochs, vectorize, max_parallel, progress)
    name = check_optimizer(optimizer, lr, weight_decay, momentum)
    settings = Settings(epochs, float(lr), name, float(weight_decay), float(momentum),
                        _loss_fn(loss), _device(device))
    tensors, reason = as_training_data(data, batch_size)
    if vectorize == "auto" and len(seeds) == 1 and reason is None:
        vectorize, reason = False, "one seed"  # nothing to train together: not worth a note
    models = build_models(build, seeds)
    if vectorize is not False:
        check_same_structure(models)
    if vectorize is True and reason is not None:
        raise bad_value("vectorize", vectorize, "False or 'auto' for this data", f"{reason}; "
                        "pass a DataLoader over a TensorDataset to train the seeds together")
    on_epoch = _reporter(progress, len(seeds), epochs)
    result = SeedModels()
    outcomes: dict[int, Outcome] = {}
    if vectorize is not False and reason is None:
        try:
            outcomes = _vectorized(models, seeds, tensors.to(settings.device), settings,
                                   on_epoch, max_parallel, result)
        except NotVectorizable as why:
            if vectorize is True:
                raise bad_value("vectorize", vectorize, "False or 'auto' for this model",
                                str(why)) from why.__cause__
            reason, result.vectorized = str(why), False
            models = build_models(build, seeds)
    if not outcomes:
        if vectorize == "auto" and reason and len(seeds) > 1:
            warnings.warn(f"train_seeds trains the {len(seeds)} seeds one after another: "
                          f"{reason}.", MushinWarning, stacklevel=2)
        result.note = "one seed after another" + (f": {reason}" if reason else "")
        data_ = tensors if isinstance(tensors, Stream) else tensors.to(settings.device)
        outcomes = {seed: train_one(models[seed], seed, data_, settings, on_epoch)
                    for seed in seeds}
    log.info("train_seeds: %s", result.note)
    return _collect(result, models, outcomes, settings)


def _vectorized(models: dict[int, nn.Module], seeds: list[int], data: Any, s: Settings,
                on_epoch: Any, max_parallel: int | None, result: SeedModels
                ) -> dict[int, Outcome]:
    first = models[seeds[0]].to(s.device)
    _calls, activations = probe(first, data.inputs[: data.batch_size])
    size, why = chunk_size(len(seeds), max_parallel, memory_per_seed(first, activations),
                           free_memory(s.device), str(s.device))
    chunks = [seeds[i:i + size] for i in range(0, len(seeds), size)]
    result.vectorized = True
    result.note = (f"{len(seeds)} seeds together in {len(chunks)} chunk(s) of up to {size} "
                   f"({why})")
    if len(chunks) > 1 and max_parallel is None:
        warnings.warn(f"train_seeds: {result.note}.", MushinWarning, stacklevel=3)
    outcomes: dict[int, Outcome] = {}
    for chunk in chunks:
        group = [models[seed].to(s.device) for seed in chunk]
        outcomes.update(zip(chunk, train_stacked(group, chunk, data, s, on_epoch)))
    return outcomes


def _collect(result: SeedModels, models: dict[int, nn.Module], outcomes: dict[int, Outcome],
             s: Settings) -> SeedModels:
    for seed, out in outcomes.items():
        result.curves[seed] = out.curve
        if out.nan_epoch is None:
            result[seed] = models[seed]
            continue
        result.failures[seed] = MushinRuntimeError(
            f"seed {seed}: the training loss became NaN in epoch {out.nan_epoch} of "
            f"{s.epochs} (optimizer={s.optimizer!r}, lr={s.lr!r}). Fix: lower `lr`, or look "
            "for NaN or inf in the data; the other seeds trained on.")
    if result.failures:
        warnings.warn("; ".join(str(e).split(". Fix")[0] for e in result.failures.values())
                      + ".", MushinWarning, stacklevel=3)
    return result
