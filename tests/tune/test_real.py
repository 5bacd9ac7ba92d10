"""Real trainers: a torch MLP tuned in rounds, scikit-learn classifiers tuned in one fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import GridSearchCV, PredefinedSplit, train_test_split

from mushin_nb.tune import Checkpoint, EpochTrainer, Params, SimpleTrainer, tune
from mushin_nb.workflows import multirun


class MLPTrainer(EpochTrainer):
    """A one-hidden-layer MLP on generated 3-class data, full-batch Adam, 5 steps an epoch."""

    metric = "valid_accuracy"

    def load_dataset(self, dataset: int) -> None:
        g = torch.Generator().manual_seed(dataset)
        x = torch.randn(600, 10, generator=g)
        y = (x @ torch.randn(10, 3, generator=g) + 0.7 * torch.randn(600, 3, generator=g)).argmax(1)
        self.x_train, self.y_train, self.x_valid, self.y_valid = x[:400], y[:400], x[400:], y[400:]

    def create_model(self, params) -> None:
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the global RNG
            torch.manual_seed(params.get("seed", 0))
            self.net = torch.nn.Sequential(torch.nn.Linear(10, params.width), torch.nn.ReLU(),
                                           torch.nn.Linear(params.width, 3))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=params.lr)
        self.epochs_done = 0

    def train_epoch(self, epoch: int) -> dict:
        assert epoch == self.epochs_done
        for _ in range(5):
            self.opt.zero_grad()
            loss = F.cross_entropy(self.net(self.x_train), self.y_train)
            loss.backward()
            self.opt.step()
        self.epochs_done += 1
        with torch.no_grad():
            logits = self.net(self.x_valid)
        return {"valid_accuracy": (logits.argmax(1) == self.y_valid).double().mean(),
                "valid_loss": F.cross_entropy(logits, self.y_valid).item(),
                "train_loss": loss.item()}

    def save(self, checkpoint: Checkpoint) -> None:
        checkpoint.save_torch({"net": self.net.state_dict(), "opt": self.opt.state_dict(),
                               "epochs_done": self.epochs_done})

    def load(self, checkpoint: Checkpoint, params) -> None:
        self.create_model(params)
        state = checkpoint.load_torch()
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.epochs_done = state["epochs_done"]


@pytest.fixture(scope="module")
def mlp_results(tmp_path_factory):
    grid = {"width": multirun([4, 32]), "lr": multirun([0.003, 0.03, 0.1])}
    wd = tmp_path_factory.mktemp("mlp") / "run"
    return tune(MLPTrainer(), grid, dataset=7, rounds=[2, 6], reduction=3, working_dir=wd,
                progress=False)


def test_mlp_rounds_spend_epochs_on_the_best_third(mlp_results):
    assert len(mlp_results) == 6 and not mlp_results.errors
    assert sorted(c.epochs for c in mlp_results) == [2, 2, 2, 2, 6, 6]
    assert all(c.epochs == 6 for c in mlp_results[:2])
    values = [c.metric_value for c in mlp_results]
    assert values == sorted(values, reverse=True)


def test_mlp_best_checkpoint_reproduces_its_metrics_with_sklearn(mlp_results):
    trainer = MLPTrainer()
    trainer.load_dataset(7)
    best = mlp_results.best
    trainer.load(Checkpoint(best.checkpoint), best.params)
    with torch.no_grad():
        logits = trainer.net(trainer.x_valid)
    y = trainer.y_valid.numpy()
    assert trainer.epochs_done == best.best_epoch + 1
    assert best.best_epoch_metrics["valid_accuracy"] == accuracy_score(y, logits.argmax(1))
    assert best.best_epoch_metrics["valid_loss"] == pytest.approx(
        log_loss(y, torch.softmax(logits.double(), 1).numpy(), labels=[0, 1, 2]), rel=1e-6)


def test_mlp_continuing_from_checkpoints_equals_uninterrupted_training(mlp_results):
    best = mlp_results.best
    trainer = MLPTrainer()
    trainer.load_dataset(7)
    trainer.create_model(best.params)
    straight = [trainer.train_epoch(e) for e in range(6)]
    assert best.metric_values == [{k: float(v) for k, v in m.items()} for m in straight]


def test_mlp_results_as_dataframe_and_dataset(mlp_results):
    df = mlp_results.to_df()
    assert list(df["candidate"]) == [c.index for c in mlp_results]
    assert {"params.width", "params.lr", "metric_value", "round", "epochs", "best_epoch",
            "best_epoch_metrics.valid_accuracy", "last_epoch_metrics.train_loss", "duration",
            "checkpoint", "error"} <= set(df.columns)
    assert df["metric_value"].tolist() == df["best_epoch_metrics.valid_accuracy"].tolist()
    ds = mlp_results.to_xarray()
    assert ds["valid_accuracy"].dims == ("candidate", "epoch")
    assert ds.sizes == {"candidate": 6, "epoch": 6}
    best = ds.isel(candidate=0)
    assert float(best["valid_accuracy"].max()) == mlp_results.best.metric_value
    assert int(best["valid_accuracy"].argmax("epoch")) == mlp_results.best.best_epoch
    short = ds.isel(candidate=-1)
    assert int(short["valid_accuracy"].notnull().sum()) == 2  # NaN past its last epoch
    assert ds["width"].dims == ("candidate",) and ds.attrs["metric"] == "valid_accuracy"


def _digits():
    x, y = load_digits(return_X_y=True)
    return train_test_split(x / 16.0, y, test_size=0.3, random_state=0, stratify=y)


class LogReg(SimpleTrainer):
    metric = "valid_accuracy"

    def load_dataset(self, dataset) -> None:
        self.x_train, self.x_valid, self.y_train, self.y_valid = _digits()

    def train(self, params):
        model = LogisticRegression(C=params.C, max_iter=300).fit(self.x_train, self.y_train)
        return model, {"valid_accuracy": model.score(self.x_valid, self.y_valid),
                       "train_accuracy": model.score(self.x_train, self.y_train)}


def test_logistic_regression_grid_matches_sklearn_grid_search(wd):
    cs = [0.01, 0.1, 1.0, 10.0]
    results = tune(LogReg(), {"C": multirun(cs)}, working_dir=wd, progress=False)
    x_train, x_valid, y_train, y_valid = _digits()
    split = PredefinedSplit(np.r_[np.full(len(y_train), -1), np.zeros(len(y_valid))])
    search = GridSearchCV(LogisticRegression(max_iter=300), {"C": cs}, cv=split, refit=False)
    search.fit(np.r_[x_train, x_valid], np.r_[y_train, y_valid])
    reference = dict(zip(cs, search.cv_results_["mean_test_score"]))
    assert {c.params.C: c.metric_value for c in results} == pytest.approx(reference, abs=1e-12)
    assert results.best.params.C == search.cv_results_["params"][search.best_index_]["C"]
    model = Checkpoint(results.best.checkpoint).load_pickle()
    assert model.score(x_valid, y_valid) == results.best.metric_value
    df = results.to_df()
    assert {"params.C", "metric_value", "metrics.valid_accuracy", "metrics.train_accuracy",
            "duration", "checkpoint", "error"} <= set(df.columns)
    assert results.to_xarray()["valid_accuracy"].dims == ("candidate",)


class SGD(SimpleTrainer):
    metric = "valid_accuracy"

    def load_dataset(self, dataset) -> None:
        self.x_train, self.x_valid, self.y_train, self.y_valid = _digits()

    def train(self, params):
        model = SGDClassifier(alpha=params.alpha, random_state=params.seed, max_iter=20, tol=None)
        model.fit(self.x_train, self.y_train)
        return model, {"valid_accuracy": model.score(self.x_valid, self.y_valid)}


def test_sgd_over_seeds_is_ranked_by_the_mean_of_sklearn_scores(wd):
    alphas, seeds = [1e-4, 1e-2, 1.0], [0, 1, 2]
    results = tune(SGD(), [{"alpha": a} for a in alphas], seeds=seeds, working_dir=wd,
                   progress=False)
    x_train, x_valid, y_train, y_valid = _digits()
    scores = {a: [SGDClassifier(alpha=a, random_state=s, max_iter=20, tol=None)
                  .fit(x_train, y_train).score(x_valid, y_valid) for s in seeds] for a in alphas}
    assert {c.params.alpha: c.metric_value for c in results} == pytest.approx(
        {a: np.mean(v) for a, v in scores.items()}, abs=1e-12)
    assert results.best.params.alpha == max(alphas, key=lambda a: np.mean(scores[a]))
    ds = results.to_xarray()
    assert ds["valid_accuracy"].dims == ("candidate", "seed")
    for c in results:
        assert ds["valid_accuracy"].sel(candidate=c.index).values.tolist() == scores[
            c.params.alpha]
    assert set(results.best.checkpoints) == set(seeds)


def test_default_create_model_calls_params_create_model(wd):
    class Linear(EpochTrainer):
        metric = "neg_loss"

        def train_epoch(self, epoch):
            return {"neg_loss": -float(self.model.weight.detach().abs().sum())}

    params = [{"create_model": lambda: torch.nn.Linear(2, 1, bias=False), "name": "lin"}]
    results = tune(Linear(), params, rounds=[1], working_dir=wd, progress=False)
    assert not results.errors
    assert isinstance(Checkpoint(results.best.checkpoint).load_pickle(), torch.nn.Linear)
    assert isinstance(results.best.params, Params)
