"""Trainers for the tune tests: hand-built ones whose metric is a known function of the
parameters and the epoch, and a call log that the tests read back from disk."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from mushin_nb.tune import EpochTrainer, SimpleTrainer


def read_log(path: Path) -> list[list]:
    """The calls a trainer clone logged, one JSON list per line."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


class Scripted(EpochTrainer):
    """Score of candidate ``q`` after ``epoch`` epochs is ``curve(q, epoch)``.

    The model is a dict holding the number of epochs it has been trained: ``train_epoch``
    refuses to run if that counter disagrees with the epoch it is asked for, so training
    that silently restarted from scratch (or skipped) fails loudly.  Every call is logged.
    """

    metric = "score"

    def __init__(self, log: Path | None = None, curve: str = "rise", fail: dict | None = None,
                 sleep: float = 0.0) -> None:
        self.log_path = str(log) if log else None
        self.curve = curve
        self.fail = fail or {}
        self.sleep = sleep

    def _log(self, *entry) -> None:
        if self.log_path:
            with open(self.log_path, "a") as fh:
                fh.write(json.dumps(list(entry)) + "\n")

    def load_dataset(self, dataset) -> None:
        self._log("load_dataset", dataset)

    def create_model(self, params) -> None:
        self._log("create", params["q"], params.get("seed"))
        self.model = {"epoch": 0, "q": params.q, "seed": params.get("seed")}

    def load(self, checkpoint, params) -> None:
        self.model = checkpoint.load_pickle()
        self._log("load", params["q"], params.get("seed"), self.model["epoch"])
        assert self.model["q"] == params.q

    def train_epoch(self, epoch: int) -> dict:
        q, seed = self.model["q"], self.model["seed"]
        self._log("epoch", q, seed, epoch)
        if self.model["epoch"] != epoch:
            raise AssertionError(f"model trained {self.model['epoch']} epochs, asked {epoch}")
        if self.fail.get("q") == q and self.fail.get("epoch", 0) == epoch:
            raise RuntimeError(f"boom at q={q} epoch={epoch}")
        if self.sleep:
            import time

            time.sleep(self.sleep)
        self.model["epoch"] += 1
        return {"score": score(self.curve, q, epoch, seed), "epoch_seen": float(epoch)}


def score(curve: str, q: float, epoch: int, seed=None) -> float:
    """The known metric of the Scripted trainer."""
    if curve == "rise":  # ranking by q at every epoch
        return q * (1 - 0.5 ** (epoch + 1))
    if curve == "cross":  # high q starts slow and ends high
        return q * epoch - 0.1 * q * q if epoch < 3 else q * epoch
    if curve == "seeded":  # seed shifts the level; the mean over seeds 0,1,2 is q
        return q + (seed - 1) * 0.5 + 0.0 * epoch
    if curve == "nan":
        return math.nan if q == 0 else q
    raise ValueError(curve)


class Quadratic(SimpleTrainer):
    """One fit: score = -(x - 3)^2, model = the params it saw."""

    metric = "score"

    def __init__(self, log: Path | None = None) -> None:
        self.log_path = str(log) if log else None

    def load_dataset(self, dataset) -> None:
        if self.log_path:
            with open(self.log_path, "a") as fh:
                fh.write(json.dumps(["load_dataset", dataset]) + "\n")

    def train(self, params):
        if self.log_path:
            with open(self.log_path, "a") as fh:
                fh.write(json.dumps(["train", params.x]) + "\n")
        if params.x == 99:
            raise ValueError("x=99 is cursed")
        return {"x": params.x}, {"score": -((params.x - 3) ** 2), "x": params.x}


@pytest.fixture
def log(tmp_path) -> Path:
    return tmp_path / "calls.jsonl"


@pytest.fixture
def wd(tmp_path) -> Path:
    return tmp_path / "run"


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    """No progress bars in test output unless a test asks for one."""
    monkeypatch.setenv("MUSHIN_NB_PROGRESS", "off")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One BLAS/torch thread: on a small shared machine oversubscribed threads cost 40x."""
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")  # only the modules that use torch have imported it
    before = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    if torch:
        torch.set_num_threads(before)
