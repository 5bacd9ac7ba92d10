"""StudyBuilder runs a real Study: tiny trainings on digits through a real Hydra sweep, in a
background thread driven by the buttons. Reference numbers come from scikit-learn and scipy,
computed on the saved checkpoints loaded independently of the builder."""

from __future__ import annotations

import html
import re
import shutil
import threading
import time

import numpy as np
import pytest
import torch
from scipy import stats as sps
from sklearn.metrics import accuracy_score
from torch import nn

from mushin_nb.errors import MushinRuntimeError, SweepFailedError
from mushin_nb.experiments import digits_loaders, digits_tensors
from mushin_nb.notebook.builder import StudyBuilder
from mushin_nb.notebook.widgets import SweepMonitor
from mushin_nb.stats import MushinWarning
from mushin_nb.study import checkpoint_dir

_, TEST_LOADER = digits_loaders(batch_size=150, seed=0)
X_TRAIN, Y_TRAIN = digits_tensors(train=True, seed=0)
X_TEST, Y_TEST = digits_tensors(train=False, seed=0)
SMALL_TRAIN = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(X_TRAIN[:256], Y_TRAIN[:256]), batch_size=128, shuffle=True,
    generator=torch.Generator().manual_seed(0))
TRAINED: list[tuple[str, int]] = []  # (method, seed) of every training, in order


def _fit(hidden: int, seed: int, steps: int = 3) -> nn.Module:
    """A few plain gradient steps from a seeded start (no torch.optim: nothing to import)."""
    generator = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.3)
    for _ in range(steps):
        index = torch.randint(len(X_TRAIN), (128,), generator=generator)
        model.zero_grad()
        nn.functional.cross_entropy(model(X_TRAIN[index]), Y_TRAIN[index]).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
    return model


def _save(name: str, hidden: int, seed: int):
    TRAINED.append((name, seed))
    path = checkpoint_dir() / f"{name}_{seed}.pt"
    torch.save(_fit(hidden, seed), path)
    return path


def train_wide(seed):
    return _save("wide", 24, seed)


def train_narrow(seed):
    return _save("narrow", 2, seed)


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))

    def forward(self, x):
        return self.body(x)


def namespace(**more):
    return {"__name__": __name__, "train_wide": train_wide, "train_narrow": train_narrow,
            "Tiny": Tiny, "test_loader": TEST_LOADER, "small_train": SMALL_TRAIN, **more}


def _accuracy(model: nn.Module) -> float:
    with torch.no_grad():
        return accuracy_score(Y_TEST.numpy(), model(X_TEST).argmax(dim=1).numpy())


def _load(method: str, path: str) -> nn.Module:
    if method == "Tiny":
        model = Tiny()
        model.load_state_dict(torch.load(path, weights_only=True))
        return model
    return torch.load(path, weights_only=False)  # our own test files: trusted


def test_run_button_trains_in_the_background_and_shows_the_answer(tmp_path):
    ns = namespace()
    b = StudyBuilder(ns)
    b.set(methods=["train_wide", "train_narrow", "Tiny"], seeds="0-2", train_data="small_train",
          epochs=1, lr=0.01, working_dir=str(tmp_path / "study"))
    assert b.errors == {}

    started = time.monotonic()
    b.run_button.click()
    assert time.monotonic() - started < 5  # the click only starts the thread
    assert b.running and b.run_button.disabled and not b.stop_button.disabled
    assert isinstance(b.monitor_box.children[0], SweepMonitor)
    result = b.wait(300)

    assert not b.running and b.stop_button.disabled and not b.run_button.disabled
    assert re.fullmatch(r"<span>done in [\d.]+ s</span>", b.status.value)
    assert result is b.result and b.error is None
    assert result.methods == ["train_wide", "train_narrow", "Tiny"]
    assert result.data["seed"].values.tolist() == [0, 1, 2]
    training, evaluation = b.monitor_box.children  # one live monitor per phase, both kept
    assert training.title == "Study: train_wide vs train_narrow vs Tiny"
    assert evaluation.title == "compare"
    for monitor in (training, evaluation):
        assert monitor.finished and monitor.snapshot().statuses == "d" * 9

    # the scores are scikit-learn's accuracy of the saved checkpoints, and the test scipy's
    accuracy = {m: [_accuracy(_load(m, p)) for p in paths]
                for m, paths in b.study.checkpoints.items()}
    np.testing.assert_allclose(result.data["accuracy"].values,
                               [accuracy[m] for m in result.methods], rtol=0, atol=1e-12)
    row = result.comparisons.query("metric == 'accuracy' and method_a == 'train_wide' "
                                   "and method_b == 'train_narrow'").iloc[0]
    welch = sps.ttest_ind(accuracy["train_wide"], accuracy["train_narrow"], equal_var=False)
    assert row["p_value"] == pytest.approx(welch.pvalue, rel=1e-9)

    # the tabs: summary, comparisons, plots, code
    assert b.results.layout.display == "" and b.results.titles == (
        "Summary", "Comparisons", "Plots", "Show code")
    summary, comparisons, plots, code = b.results.children
    assert "BenchmarkResult: 3 methods x 3 seeds, 6 metrics" in summary.value
    assert "mushin-comparisons" in comparisons.value and "welch" in comparisons.value
    metric, images = plots.children
    assert metric.value == "accuracy" and len(images.children) == 3
    assert [bytes(image.value[:4]) for image in images.children] == [b"\x89PNG"] * 3
    first = bytes(images.children[0].value)
    metric.value = "f1"  # the selector redraws the three plots
    assert [bytes(image.value[:4]) for image in images.children] == [b"\x89PNG"] * 3
    assert bytes(images.children[0].value) != first
    assert html.unescape(re.sub(r"</?pre>", "", code.value)) == b.code()

    # "Show code", run on its own in a fresh directory, gives the same result
    shutil.move(tmp_path / "study", tmp_path / "study-builder")
    scope = dict(ns)
    exec(compile(b.code(), "<show code>", "exec"), scope)
    again = scope["result"]
    assert scope["study"] is not b.study and again.methods == result.methods
    for name in result.metrics:
        np.testing.assert_array_equal(again.data[name].values, result.data[name].values)
    assert again.comparisons.equals(result.comparisons)


def test_stop_ends_after_the_running_training_and_keeps_what_finished(tmp_path):
    gate, waiting = threading.Event(), threading.Event()

    def train_gated(seed):
        if seed == 1:  # hold the second training until the test has clicked Stop
            waiting.set()
            assert gate.wait(120)
        return _save("gated", 8, seed)

    b = StudyBuilder(namespace(train_gated=train_gated))
    b.set(methods=["train_wide", "train_gated"], seeds="0-2", working_dir=str(tmp_path))
    TRAINED.clear()
    b.run_button.click()
    try:
        assert waiting.wait(120)
        assert b.running
        with pytest.raises(MushinRuntimeError, match=r"already running a study\. Fix: wait"):
            b.run()
        b.stop_button.click()
        assert b.stop_button.disabled and "stopping after the running training" in b.status.value
    finally:
        gate.set()
    result = b.wait(300)

    assert TRAINED == [("wide", 0), ("wide", 1), ("wide", 2), ("gated", 0), ("gated", 1)]
    assert b.study.missing == [("train_gated", 2)]
    assert [(m, s) for m, s, _ in result.missing] == [("train_gated", 2)]
    assert result.missing[0][2].startswith("skipped: the StudyBuilder's Stop ended the study")
    assert b.study.failures == []  # a stopped training is not a failed one
    gated = result.data["accuracy"].values[result.methods.index("train_gated")]
    assert np.isfinite(gated[:2]).all() and np.isnan(gated[2])
    assert re.search(r"stopped in [\d.]+ s, 1 training\(s\) left out", b.status.value)
    assert "train_gated/seed=2" in b.results.children[0].value
    assert not list((tmp_path / ".mushin").glob("stop-*"))  # the request is cleared

    # running again trains only what the stop left out (the plain twin of Run)
    complete = b.run(block=True)
    assert TRAINED[5:] == [("gated", 2)]
    assert complete.missing == [] and np.isfinite(complete.data["accuracy"].values).all()
    np.testing.assert_array_equal(complete.data["accuracy"].values[:, :2],
                                  result.data["accuracy"].values[:, :2])


def test_changed_settings_over_the_same_folder_are_flagged_in_the_form(tmp_path):
    b = StudyBuilder(namespace())
    b.set(methods=["train_wide", "Tiny"], seeds="0-1", train_data="small_train", epochs=1,
          lr=0.01, working_dir=str(tmp_path / "study"))
    b.run(block=True)
    assert b.error_box.value == "" and b.study.stale == {}
    b.set(epochs=2)  # the form changed; the folder did not
    with pytest.warns(MushinWarning, match=r"'Tiny' \(seeds \[0, 1\]\)"):
        b.run(block=True)
    assert b.study.stale == {"Tiny": [0, 1]}
    assert "trained by older code or settings: Tiny (seeds 0, 1)" in b.error_box.value
    assert "train_wide" not in b.error_box.value


def test_a_failed_run_shows_its_error_in_the_form(tmp_path):
    def train_broken(seed):
        raise ValueError("<b>diverged</b>")

    def train_broken_too(seed):
        raise ValueError("no luck")

    b = StudyBuilder(namespace(train_broken=train_broken, train_broken_too=train_broken_too))
    b.set(methods=["train_broken", "train_broken_too"], seeds="0-1",
          working_dir=str(tmp_path))
    b.run_button.click()
    with pytest.raises(SweepFailedError, match=r"No method has the 2 checkpoints"):
        b.wait(300)
    assert isinstance(b.error, SweepFailedError) and b.result is None
    shown = b.error_box.value
    assert "SweepFailedError" in shown and "&lt;b&gt;diverged&lt;/b&gt;" in shown
    assert "<summary>traceback</summary>" in shown and "in _compare" in shown
    assert "<b>diverged" not in shown
    assert re.search(r"failed after [\d.]+ s", b.status.value)
    assert not b.run_button.disabled and b.results.layout.display == "none"


BUILT: list[tuple[int, int]] = []  # (seed, sweep job) of every LoggedTiny built in a job


class LoggedTiny(Tiny):
    def __init__(self) -> None:
        from mushin_nb.progress import current_job

        super().__init__()
        job = current_job()
        if job is not None:  # training (loading for the evaluation builds outside jobs)
            BUILT.append((torch.initial_seed(), job.index))


def test_module_methods_train_all_their_seeds_at_once_with_train_seeds(tmp_path):
    from mushin_nb.train import SeedTrainer, train_seeds

    BUILT.clear()
    b = StudyBuilder(namespace(LoggedTiny=LoggedTiny))
    b.set(methods=["train_wide", "LoggedTiny"], seeds="0-2", train_data="small_train",
          epochs=2, lr=0.01, working_dir=str(tmp_path / "study"))
    b.run(block=True)
    assert isinstance(b.study.methods["LoggedTiny"], SeedTrainer)
    assert BUILT == [(0, 3), (1, 3), (2, 3)]  # the method's first job trained all three
    reference = train_seeds(Tiny, SMALL_TRAIN, [0, 1, 2], epochs=2, lr=0.01, progress=False)
    for seed, path in enumerate(b.study.checkpoints["LoggedTiny"]):
        state = torch.load(path, weights_only=True)
        torch.testing.assert_close(state["body.1.weight"], reference[seed].body[1].weight)
