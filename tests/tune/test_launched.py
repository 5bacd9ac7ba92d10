"""tune(launcher=...): each round's jobs go through the sweep engine; the ranking, records
and checkpoints are those of in-process tuning, and a killed tuning resumes."""

import json
import os
import runpy
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from mushin_nb.errors import MushinTypeError, MushinValueError
from mushin_nb.tune import EpochTrainer, tune
from mushin_nb.workflows import multirun

BENCH = Path(__file__).resolve().parents[2] / "bench" / "tune_rounds.py"


def _bench():
    return SimpleNamespace(**runpy.run_path(str(BENCH)))  # its names, main() not run


def _summary(results):
    return [(dict(c.params), c.epochs, c.metric_value) for c in results]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_p4_problem_on_joblib_ranks_as_in_process(tmp_path):
    import torch

    bench = _bench()
    trainer_cls = bench._trainer_class()  # a local class: cloudpickle sends it by value
    grid = {k: multirun(v) for k, v in bench.GRID.items()}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        here = tune(trainer_cls(), grid, rounds=bench.ROUNDS, reduction=bench.REDUCTION,
                    working_dir=tmp_path / "here", progress=False)
        there = tune(trainer_cls(), grid, rounds=bench.ROUNDS, reduction=bench.REDUCTION,
                     working_dir=tmp_path / "there", progress=False, launcher="joblib",
                     overrides=["hydra.launcher.n_jobs=2"])
    finally:
        torch.set_num_threads(threads)
    assert dict(there.best.params) == dict(here.best.params)
    assert _summary(there) == _summary(here)  # same order, epochs and metric values
    # the same files: records per job, one checkpoint per epoch, the same selections
    for name in ("here", "there"):
        state = json.loads((tmp_path / name / "tune.json").read_text())
        assert [len(s) for s in state["selections"]] == [27, 7, 2]
    jobs = sorted(p.name for p in (tmp_path / "here" / "jobs").iterdir())
    assert sorted(p.name for p in (tmp_path / "there" / "jobs").iterdir()) == jobs
    for job in jobs:
        a = json.loads((tmp_path / "here" / "jobs" / job / "record.json").read_text())
        b = json.loads((tmp_path / "there" / "jobs" / job / "record.json").read_text())
        assert [e["metrics"] for e in a["epochs"]] == [e["metrics"] for e in b["epochs"]]
        assert len(list((tmp_path / "there" / "jobs" / job / "checkpoints").iterdir())) == len(
            b["epochs"])
    # one sweep of the two workers trained all three rounds
    assert sorted(p.name for p in (tmp_path / "there" / "rounds").iterdir()) == ["workers-0"]


DRIVER = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from mushin_nb.tune import EpochTrainer, tune

    root = Path(sys.argv[1])

    class Rise(EpochTrainer):
        metric = "score"

        def create_model(self, params):
            self.q, self.epoch = params.q, 0

        def train_epoch(self, epoch):
            with open(root / "epochs.log", "a") as fh:
                fh.write(json.dumps([self.q, epoch]) + "\\n")
            time.sleep(0.15)
            self.epoch = epoch + 1
            return {"score": self.q * (1 - 0.5 ** self.epoch)}

        def save(self, checkpoint):
            checkpoint.save_pickle({"q": self.q, "epoch": self.epoch})

        def load(self, checkpoint, params):
            state = checkpoint.load_pickle()
            self.q, self.epoch = state["q"], state["epoch"]

    results = tune(Rise(), [{"q": q} for q in (3, 1, 4, 1.5, 5, 9, 2, 6)], rounds=[2, 4],
                   reduction=4, working_dir=root / "wd", progress=False,
                   launcher=sys.argv[2] if len(sys.argv) > 2 else None,
                   overrides=["hydra.launcher.n_jobs=2"] if len(sys.argv) > 2 else None)
    (root / "out.json").write_text(json.dumps(
        [[c.params.q, c.epochs, c.metric_value] for c in results]))
""")


def _run(root: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, str(root / "driver.py"), str(root), *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_killed_launched_tuning_resumes_and_ranks_as_in_process(tmp_path):
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    for root in (killed, reference):
        root.mkdir()
        (root / "driver.py").write_text(DRIVER)
    first = _run(killed, "joblib")
    log = killed / "epochs.log"
    deadline = time.time() + 300
    while time.time() < deadline and first.poll() is None and (
            not log.exists() or len(log.read_text().splitlines()) < 6):
        time.sleep(0.05)
    assert first.poll() is None, first.communicate()[1][-3000:]
    os.killpg(first.pid, signal.SIGKILL)  # the driver and its joblib workers
    first.wait()
    second = _run(killed, "joblib")
    _, err = second.communicate(timeout=400)
    assert second.returncode == 0, err[-3000:]
    here = _run(reference)
    _, err = here.communicate(timeout=400)
    assert here.returncode == 0, err[-3000:]
    out = json.loads((killed / "out.json").read_text())
    assert out == json.loads((reference / "out.json").read_text())
    assert out[0][:2] == [9, 4]
    epochs = [tuple(e) for e in map(json.loads, log.read_text().splitlines())]
    # every epoch trained once, bar the two in flight when the driver was killed
    assert len(epochs) - len(set(epochs)) <= 2
    assert len(set(epochs)) == 8 * 2 + 2 * 2


class Flat(EpochTrainer):
    metric = "score"

    def create_model(self, params):
        pass

    def train_epoch(self, epoch):
        return {"score": 0.0}

    def save(self, checkpoint):
        checkpoint.save_pickle(0)

    def load(self, checkpoint, params):
        pass


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"gpus_per_job": -1}, MushinValueError, r"`gpus_per_job` must be a number of GPUs >= 0"),
    ({"launcher": "joblib", "gpus_per_job": 1}, MushinValueError,
     r"launcher='joblib', which cannot place jobs on GPUs.*'ray'"),
    ({"overrides": ["hydra.launcher.n_jobs=2"]}, MushinValueError,
     r"`overrides` must be empty when launcher is None"),
    ({"launcher": "joblib", "overrides": "hydra.launcher.n_jobs=2"}, MushinTypeError,
     r"`overrides` must be a list of Hydra override strings"),
    ({"launcher": 3}, MushinTypeError, r"`launcher` must be None or a Hydra launcher name"),
    ({"launcher": "jobllib"}, MushinValueError,
     r"`launcher` must be one of \[.*'joblib'.*\], got 'jobllib'.*Fix: .*install"),
])
def test_bad_launch_arguments_fail_before_anything_is_written(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        tune(Flat(), [{"a": 1}], rounds=[1], working_dir=tmp_path / "wd", progress=False,
             **kwargs)
    assert not (tmp_path / "wd").exists()


class Paced(EpochTrainer):
    """An epoch of candidate ``pace`` sleeps ``pace`` x 50 ms; the faster, the better."""

    metric = "score"

    def create_model(self, params):
        self.pace = params.pace

    def train_epoch(self, epoch):
        time.sleep(0.05 * self.pace)
        return {"score": float(self.pace)}

    def save(self, checkpoint):
        checkpoint.save_pickle(self.pace)

    def load(self, checkpoint, params):
        self.pace = checkpoint.load_pickle()


@pytest.mark.timeout(300)
def test_workers_share_the_rounds_out_so_none_idles_while_work_is_sure(tmp_path):
    results = tune(Paced(), [{"pace": p} for p in (12, 1, 2, 3)], rounds=[1, 3],
                   reduction=4 / 3, working_dir=tmp_path, progress=False, launcher="joblib",
                   overrides=["hydra.launcher.n_jobs=2"])
    assert [(c.params.pace, c.epochs) for c in results] == [(12, 3), (3, 3), (2, 3), (1, 1)]
    sweeps = sorted((tmp_path / "rounds").iterdir())
    assert [p.name for p in sweeps] == ["workers-0"]  # one sweep for both rounds
    records = [json.loads((d / ".mushin" / "record.json").read_text())
               for d in sorted(sweeps[0].iterdir()) if d.is_dir()]
    trained = [tuple(t) for r in records for t in r["return_value"]["trained"]]
    # the two workers between them trained each job once a round: all four in round 0,
    # the three kept in round 1 (which worker took which depends on the machine's pace)
    assert sorted(trained) == [(0, "c0000"), (0, "c0001"), (0, "c0002"), (0, "c0003"),
                               (1, "c0000"), (1, "c0002"), (1, "c0003")]
    state = json.loads((tmp_path / "tune.json").read_text())
    assert state["selections"] == [[0, 1, 2, 3], [0, 2, 3]]
    assert not list((tmp_path / ".claims").rglob("lease.json"))  # every lease let go


class Flaky(EpochTrainer):
    """Score ``q`` x seed-dependent factor; candidate ``q == 9`` (the best) fails in its
    third epoch (in round 1) on seed 1, candidate ``q == 5`` returns NaN in round 0."""

    metric = "score"

    def create_model(self, params):
        self.q, self.seed, self.epoch = params.q, params.seed, 0

    def train_epoch(self, epoch):
        time.sleep(0.02)
        if self.q == 9 and self.seed == 1 and epoch == 2:
            raise RuntimeError("diverged")
        self.epoch = epoch + 1
        value = float("nan") if self.q == 5 else self.q * (1 + 0.1 * self.seed) * self.epoch
        return {"score": value}

    def save(self, checkpoint):
        checkpoint.save_pickle([self.q, self.seed, self.epoch])

    def load(self, checkpoint, params):
        self.q, self.seed, self.epoch = checkpoint.load_pickle()


@pytest.mark.timeout(300)
def test_shared_rounds_with_seeds_and_failures_end_as_in_process(tmp_path):
    space = [{"q": q} for q in (3, 1, 4, 2, 5, 9, 6)]
    kwargs = {"rounds": [2, 4, 6], "reduction": 2, "seeds": [0, 1], "progress": False}
    here = tune(Flaky(), space, working_dir=tmp_path / "here", **kwargs)
    there = tune(Flaky(), space, working_dir=tmp_path / "there", launcher="joblib",
                 overrides=["hydra.launcher.n_jobs=2"], **kwargs)
    assert _summary(there) == _summary(here)
    assert [(c.index, c.error.splitlines()[0]) for c in there.errors] == [
        (c.index, c.error.splitlines()[0]) for c in here.errors]
    assert {c.params.q for c in there.errors} == {5, 9}
    for name in ("here", "there"):  # the failed best one ranks last in round 1
        state = json.loads((tmp_path / name / "tune.json").read_text())
        assert state["selections"] == [[0, 1, 2, 3, 4, 5, 6], [0, 2, 5, 6], [2, 6]]


def test_shared_rounds_promote_only_the_sure_and_rank_as_at_the_round_end(tmp_path):
    from mushin_nb.tune._schedule import parse_rounds
    from mushin_nb.tune._session import Session
    from mushin_nb.tune._store import Store

    state = {"selections": [[0, 1, 2, 3]]}
    Store(tmp_path).save_state(state)
    session = Session(lambda: None, None, "score", parse_rounds([1, 3]), 2.0, None,
                      [{"q": q} for q in range(4)], Store(tmp_path), state, False)

    def epochs(job, *scores):
        job.record["epochs"] = [{"epoch": i, "metrics": {"score": s}, "start": 0.0,
                                 "seconds": 0.1} for i, s in enumerate(scores)]

    c0, c1, c2, c3 = session.jobs
    epochs(c0, 5.0)
    epochs(c1, 1.0)
    epochs(c2, 3.0)  # c3 still trains its first epoch
    # 2 of 4 advance: only c0 is sure to (c3 can end above c2 but not above both)
    assert {(r, job.name) for r, job in session.open_work()} == {(0, "c0003"), (1, "c0000")}
    assert not session.select_next()  # round 0 is not done
    # c0 trains on and fails in round 1; then c3 ends round 0 at 4.0
    epochs(c0, 5.0, 0.1, 0.1)
    c0.record["error"] = {"message": "RuntimeError: diverged", "traceback": None}
    epochs(c3, 4.0)
    assert session.select_next()
    # ranked as in-process ranks at round 0's end: c0 at 5.0 and healthy, then c3
    assert session.state["selections"] == [[0, 1, 2, 3], [0, 3]]
    assert json.loads((tmp_path / "tune.json").read_text())["selections"][-1] == [0, 3]
    # the last round: only c3 trains on (a failed candidate never does)
    assert [(r, job.name) for r, job in session.open_work()] == [(1, "c0003")]
