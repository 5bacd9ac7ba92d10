"""Study with SeedTrainer methods: one job trains all missing seeds, one checkpoint per seed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score

from mushin_nb.experiments.digits import digits_tensors
from mushin_nb.experiments.zoo import digits_mlp
from mushin_nb.progress import current_job
from mushin_nb.stats import MushinWarning
from mushin_nb.study import Study
from mushin_nb.train import SeedTrainer, train_seeds
from tests.experiments.conftest import one_torch_thread  # noqa: F401 - autouse, one thread


@pytest.fixture(scope="module")
def train_loader():
    x, y = digits_tensors(train=True, seed=0)
    data = torch.utils.data.TensorDataset(x[:256], y[:256])
    return torch.utils.data.DataLoader(data, batch_size=64, shuffle=True)


class Logged:
    """A builder that logs the seed it builds for (torch's initial seed) and the job it
    runs in, when it runs in a job of the sweep (loading a checkpoint builds too)."""

    def __init__(self, path: Path, hidden: int = 16) -> None:
        self.path, self.hidden = path, hidden

    def __call__(self) -> torch.nn.Module:
        job = current_job()
        if job is not None:
            with open(self.path, "a") as fh:
                fh.write(f"{torch.initial_seed()} {job.index}\n")
        return digits_mlp(hidden=self.hidden)

    def lines(self) -> list[tuple[int, int]]:
        text = self.path.read_text() if self.path.exists() else ""
        return [tuple(map(int, line.split())) for line in text.splitlines()]

    def seeds(self) -> list[int]:
        return [seed for seed, _ in self.lines()]


class Recorder:
    """A progress sink (the contract of mushin_nb.progress) that keeps what it is told."""

    def __init__(self) -> None:
        self.reports: list[tuple[int, int | None, dict]] = []
        self.labels: list[str] = []

    def start(self, labels, title=""):
        self.labels = list(labels)

    def job_start(self, index):
        pass

    def job_report(self, index, step, total, metrics):
        self.reports.append((index, step, dict(metrics)))

    def job_end(self, index, status, error=None):
        pass

    def watch(self, index, event_file):
        pass

    def close(self, ok=True):
        pass


def _study(methods, tmp_path, test_batches, seeds=(0, 1, 2), progress=False):
    return Study(methods, seeds=list(seeds), data=test_batches, num_classes=10,
                 metrics=["accuracy"], working_dir=tmp_path / "study", progress=progress)


def test_one_job_trains_every_seed_and_the_scores_are_the_models(tmp_path, test_batches,
                                                                 train_loader, saver):
    build = Logged(tmp_path / "built.log")
    trainer = SeedTrainer(build, train_loader, epochs=2, lr=0.01)
    sink = Recorder()
    study = _study({"seeds": trainer, "plain": saver("mlp")}, tmp_path, test_batches,
                   progress=sink)
    result = study.run()
    assert build.lines() == [(0, 0), (1, 0), (2, 0)]  # all three in the sweep's first job
    paths = study.checkpoints["seeds"]
    assert len(paths) == 3 and len(set(paths)) == 3
    reference = train_seeds(lambda: digits_mlp(hidden=16), train_loader, [0, 1, 2],
                            epochs=2, lr=0.01, progress=False)
    x = torch.cat([b[0] for b in test_batches])
    y = torch.cat([b[1] for b in test_batches])
    for seed, path in zip((0, 1, 2), paths):
        state = torch.load(path, weights_only=True)
        model = digits_mlp(hidden=16)
        model.load_state_dict(state)
        torch.testing.assert_close(model[1].weight, reference[seed][1].weight)
        expected = accuracy_score(y.numpy(), model.eval()(x).argmax(1).numpy())
        assert result.data["accuracy"].sel({"method": "seeds", "seed": seed}).item() == \
            pytest.approx(expected, abs=1e-12)
    # every seed's epochs reach its own job of the monitor
    by_job = {(i, step) for i, step, metrics in sink.reports if "loss" in metrics}
    labels = {i: label for i, label in enumerate(sink.labels)}
    seeds_jobs = [i for i, label in labels.items() if "seeds" in label]
    assert {(i, e) for i in seeds_jobs for e in (1, 2)} <= by_job
    assert len(study.workflow.cfgs) == 6 and study.failures == []


def test_a_rerun_trains_only_new_seeds_and_changed_settings_warn(tmp_path, test_batches,
                                                                 train_loader):
    build = Logged(tmp_path / "built.log")
    _study({"m": SeedTrainer(build, train_loader, epochs=1)}, tmp_path, test_batches).run()
    _study({"m": SeedTrainer(build, train_loader, epochs=1)}, tmp_path, test_batches).run()
    assert build.seeds() == [0, 1, 2]
    _study({"m": SeedTrainer(build, train_loader, epochs=1)}, tmp_path, test_batches,
           seeds=(0, 1, 2, 3, 4)).run()
    assert build.seeds() == [0, 1, 2, 3, 4]
    changed = _study({"m": SeedTrainer(build, train_loader, epochs=2)}, tmp_path,
                     test_batches, seeds=(0, 1, 2, 3, 4))
    with pytest.warns(MushinWarning, match=r"'m' \(seeds \[0, 1, 2, 3, 4\]\).*changed since"):
        changed.run()
    assert changed.stale == {"m": [0, 1, 2, 3, 4]} and build.seeds() == [0, 1, 2, 3, 4]


class Everywhere:
    """A builder that logs the seed it builds for and the process it builds in."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> torch.nn.Module:
        with open(self.path, "a") as fh:
            fh.write(f"{torch.initial_seed()} {os.getpid()}\n")
        return digits_mlp(hidden=16)

    def seeds_elsewhere(self) -> list[int]:
        lines = [line.split() for line in self.path.read_text().splitlines()]
        return [int(seed) for seed, pid in lines if int(pid) != os.getpid()]


@pytest.mark.timeout(300)
def test_jobs_of_one_method_in_two_processes_train_each_seed_once(tmp_path, test_batches,
                                                                 train_loader):
    build = Everywhere(tmp_path / "built.log")
    study = Study({"m": SeedTrainer(build, train_loader, epochs=3)}, seeds=[0, 1, 2, 3],
                  data=test_batches, num_classes=10, metrics=["accuracy"],
                  working_dir=tmp_path / "study", launcher="joblib", progress=False)
    result = study.run()
    # joblib's workers (one per core) start jobs 0 and 1 together; each seed trains once
    assert sorted(build.seeds_elsewhere()) == [0, 1, 2, 3]
    assert np.isfinite(result.data["accuracy"]).all() and study.failures == []
    assert not list((tmp_path / "study" / "checkpoints").glob("**/lease.json"))


def test_seeds_saved_by_another_job_count_as_stale_when_the_code_changed(
        tmp_path, test_batches, train_loader):
    build = Logged(tmp_path / "built.log")
    _study({"m": SeedTrainer(build, train_loader, epochs=1)}, tmp_path, test_batches).run()
    # as if killed after job 0 trained all three seeds, before jobs 1 and 2 recorded them
    for num in ("1", "2"):
        (tmp_path / "study" / "sweep" / num / ".mushin" / "record.json").unlink()
    changed = _study({"m": SeedTrainer(build, train_loader, epochs=2)}, tmp_path,
                     test_batches)
    with pytest.warns(MushinWarning, match=r"'m' \(seeds \[0, 1, 2\]\).*changed since"):
        changed.run()
    assert changed.stale == {"m": [0, 1, 2]} and build.seeds() == [0, 1, 2]


def test_a_nan_seed_fails_alone(tmp_path, test_batches, train_loader):
    def build():
        model = digits_mlp(hidden=16)
        if torch.initial_seed() == 1:
            with torch.no_grad():
                model[3].bias.fill_(float("nan"))
        return model

    study = _study({"m": SeedTrainer(build, train_loader, epochs=1)}, tmp_path, test_batches)
    with pytest.warns(MushinWarning):
        result = study.run()
    assert [(f.method, f.seed) for f in study.failures] == [("m", 1)]
    assert "loss became NaN in epoch 1" in study.failures[0].error
    assert sorted(result.data["accuracy"].sel({"method": "m"}).dropna("seed").seed.values) == [0, 2]


SCRIPT = """
import sys, time, torch
from mushin_nb.experiments.digits import digits_tensors
from mushin_nb.experiments.zoo import digits_mlp
from mushin_nb.progress import current_job
from mushin_nb.study import Study
from mushin_nb.train import SeedTrainer

LOG = sys.argv[1]

def build():
    if current_job() is not None:  # training, not loading for the evaluation
        with open(LOG, "a") as fh:
            fh.write(f"{torch.initial_seed()}\\n")
    return digits_mlp(hidden=16)

def slow_loss(out, y):
    time.sleep(0.15)  # slow steps: the kill lands in the middle of a training
    return torch.nn.functional.cross_entropy(out, y)

x, y = digits_tensors(train=True, seed=0)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[:256], y[:256]),
                                     batch_size=64, shuffle=True)
test = [(x[:100], y[:100])]
trainer = SeedTrainer(build, loader, epochs=3, loss=slow_loss, max_parallel=2)
Study({"m": trainer}, seeds=[0, 1, 2, 3], data=test, num_classes=10, metrics=["accuracy"],
      working_dir=sys.argv[2], progress=False).run()
print("DONE")
"""


def test_sigkill_mid_training_then_the_rerun_trains_only_the_unfinished_seeds(tmp_path):
    script = tmp_path / "study_script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    log, work = tmp_path / "built.log", tmp_path / "work"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(script), str(log), str(work)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and "3" in log.read_text().split():
            break  # the second pair of seeds is built (its training begins): the first is saved
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert log.read_text().split() == ["0", "1", "2", "3"]
    saved = sorted(p.name for p in (work / "checkpoints").glob("*.pt"))
    assert saved == ["m_seed0.pt", "m_seed1.pt"]
    log.unlink()
    done = subprocess.run([sys.executable, str(script), str(log), str(work)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert "DONE" in done.stdout, done.stderr[-2000:]
    assert log.read_text().split() == ["2", "3"]
    assert len(list((work / "checkpoints").glob("*.pt"))) == 4
