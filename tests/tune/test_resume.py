"""State lives in the working directory: kill, resume, and re-run a finished tuning."""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys
import textwrap
from collections import Counter

import pytest

from mushin_nb.errors import MushinValueError
from mushin_nb.tune import EpochTrainer, tune
from tests.tune.conftest import Scripted, read_log

KILLABLE = textwrap.dedent('''
    import json, os, signal, sys
    from mushin_nb.tune import EpochTrainer, tune

    class Killable(EpochTrainer):
        metric = "score"

        def __init__(self, log, kill):
            self.log, self.kill = log, kill

        def _log(self, *entry):
            with open(self.log, "a") as fh:
                fh.write(json.dumps(list(entry)) + "\\n")

        def _maybe_die(self, where, epoch):
            flag = self.log + ".killed"
            if (self.kill and self.kill[0] == where and self.kill[1] == self.model["q"]
                    and self.kill[2] == epoch and not os.path.exists(flag)):
                open(flag, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)

        def create_model(self, params):
            self.model = {"q": params.q, "epoch": 0}
            self._log("create", params.q)

        def load(self, checkpoint, params):
            self.model = checkpoint.load_pickle()
            self._log("load", params.q, self.model["epoch"])

        def train_epoch(self, epoch):
            self._log("epoch", self.model["q"], epoch)
            self._maybe_die("epoch", epoch)
            assert self.model["epoch"] == epoch, (self.model, epoch)
            self.model["epoch"] += 1
            return {"score": self.model["q"] * (1 - 0.5 ** (epoch + 1))}

        def save(self, checkpoint):
            if self.kill and self.kill[0] == "save":
                checkpoint.path.write_bytes(b"half a checkp")  # killed mid-write
            self._maybe_die("save", self.model["epoch"] - 1)
            checkpoint.save_pickle(self.model)

    wd, log, kill = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    results = tune(Killable(log, kill), [{"q": q / 10} for q in range(1, 9)], rounds=[1, 3, 6],
                   reduction=2, working_dir=wd, progress=False)
    print(json.dumps([[c.index, c.round, c.metric_values, c.error] for c in results]))
''')


def _run(script, wd, log, kill):
    return subprocess.run([sys.executable, str(script), str(wd), str(log), json.dumps(kill)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "killable.py"
    path.write_text(KILLABLE)
    return path


@pytest.mark.parametrize("where, q, epoch", [("epoch", 0.8, 4), ("save", 0.7, 1)])
def test_sigkill_mid_round_resumes_from_last_finished_epoch(script, tmp_path, where, q, epoch):
    reference = _run(script, tmp_path / "ref", tmp_path / "ref.log", None)
    assert reference.returncode == 0, reference.stderr

    wd, log = tmp_path / "run", tmp_path / "run.log"
    killed = _run(script, wd, log, [where, q, epoch])
    assert killed.returncode == -signal.SIGKILL
    before = len(read_log(log))
    resumed = _run(script, wd, log, [where, q, epoch])
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == json.loads(reference.stdout)

    calls = read_log(log)
    after_kill = calls[before:]
    # the interrupted job reloads the checkpoint of its last finished epoch and goes on
    job_calls = [c for c in after_kill if c[1] == q]
    assert job_calls[0] == ["load", q, epoch]
    assert ["create", q] not in after_kill
    # only the epoch that was cut short is trained twice
    counts = Counter((c[1], c[2]) for c in calls if c[0] == "epoch")
    assert {k: v for k, v in counts.items() if v > 1} == {(q, epoch): 2}
    assert sum(counts.values()) == sum(Counter(
        (c[1], c[2]) for c in read_log(tmp_path / "ref.log") if c[0] == "epoch").values()) + 1
    # nothing half-written is left; every checkpoint holds the epoch counter of its epoch
    assert not [p for p in wd.rglob("*") if ".tmp-" in p.name]
    for ckpt in wd.rglob("epoch-*"):
        state = pickle.loads(ckpt.read_bytes())
        assert state["epoch"] == int(ckpt.name.split("-")[1]) + 1

    # a finished tuning trains nothing and returns the same results
    again = _run(script, wd, log, None)
    assert json.loads(again.stdout) == json.loads(reference.stdout)
    assert len(read_log(log)) == len(calls)


class Interrupted(Scripted):
    """Raises KeyboardInterrupt (not recorded: the user stopped the run) at one epoch."""

    def train_epoch(self, epoch):
        if self.fail.get("q") == self.model["q"] and self.fail.get("epoch") == epoch:
            raise KeyboardInterrupt
        return super().train_epoch(epoch)


def test_interrupt_then_resume_equals_uninterrupted_run(tmp_path, log):
    qs = [0.2, 0.9, 0.4, 0.7]
    args = dict(rounds=[1, 2, 4], reduction=2, progress=False)
    reference = tune(Scripted(), [{"q": q} for q in qs], working_dir=tmp_path / "ref", **args)
    with pytest.raises(KeyboardInterrupt):
        tune(Interrupted(log, fail={"q": 0.9, "epoch": 2}), [{"q": q} for q in qs],
             working_dir=tmp_path / "run", **args)
    resumed = tune(Scripted(log), [{"q": q} for q in qs], working_dir=tmp_path / "run", **args)
    assert [(c.index, c.round, c.metric_values) for c in resumed] == [
        (c.index, c.round, c.metric_values) for c in reference]
    loads = [c for c in read_log(log) if c[0] == "load"]
    assert ["load", 0.9, None, 2] in loads  # continued from epoch 2's counter, not from 0


def test_rerun_of_finished_tuning_trains_nothing_and_loads_no_data(wd, log):
    params = [{"q": q} for q in (0.1, 0.5, 0.3)]
    first = tune(Scripted(log), params, rounds=[1, 2], working_dir=wd, progress=False)
    calls = read_log(log)
    second = tune(Scripted(log), params, rounds=[1, 2], working_dir=wd, progress=False)
    assert read_log(log) == calls
    assert first.to_df().equals(second.to_df())


def test_passthrough_error_leaves_the_run_resumable(wd, log):
    params = [{"q": 0.5}, {"q": 0.9}]
    with pytest.raises(RuntimeError, match="boom"):
        tune(Scripted(log, fail={"q": 0.9, "epoch": 1}), params, rounds=[3], working_dir=wd,
             passthrough_errors=True, progress=False)
    results = tune(Scripted(log), params, rounds=[3], working_dir=wd, progress=False)
    assert not results.errors and [c.epochs for c in results] == [3, 3]
    assert ["load", 0.9, None, 1] in read_log(log)


@pytest.mark.parametrize("change, match", [
    (dict(params=[{"q": 0.1}, {"q": 0.6}]), "other candidates"),
    (dict(rounds=[1, 3]), "other rounds"),
    (dict(reduction=2), "other reduction"),
    (dict(seeds=[0, 1]), "other seeds"),
])
def test_working_dir_of_another_tuning_is_refused(wd, change, match):
    args = dict(params=[{"q": 0.1}, {"q": 0.5}], rounds=[1, 2], progress=False)
    tune(Scripted(), working_dir=wd, **args)
    with pytest.raises(MushinValueError, match=rf"`working_dir` must be a new directory .*"
                                               rf"{match}.* Fix: pass a new working_dir"):
        tune(Scripted(), working_dir=wd, **{**args, **change})


class Counted(EpochTrainer):
    """Torch-free model whose state is a counter, saved as a directory of files."""

    metric = "score"

    def create_model(self, params):
        self.model = 0

    def train_epoch(self, epoch):
        self.model += 1
        return {"score": float(self.model)}

    def save(self, checkpoint):
        checkpoint.path.mkdir()
        (checkpoint.path / "counter.txt").write_text(str(self.model))

    def load(self, checkpoint, params):
        self.model = int((checkpoint.path / "counter.txt").read_text())


def test_directory_checkpoints_are_renamed_into_place(wd):
    results = tune(Counted(), [{"a": 1}, {"a": 2}], rounds=[1, 3], working_dir=wd,
                   progress=False)
    best = results.best
    assert best.epochs == 3 and best.best_epoch == 2
    assert (best.checkpoint / "counter.txt").read_text() == "3"
    assert best.checkpoint == wd.resolve() / "jobs" / "c0000" / "checkpoints" / "epoch-0002"


class BrokenSave(Scripted):
    def save(self, checkpoint):
        checkpoint.path.write_bytes(b"partial")
        if self.model["q"] == 0.9:
            raise OSError("disk full")
        super().save(checkpoint)


def test_failed_save_leaves_no_partial_checkpoint(wd):
    results = tune(BrokenSave(), [{"q": 0.9}, {"q": 0.5}], rounds=[2], working_dir=wd,
                   progress=False)
    (bad,) = results.errors
    assert bad.params.q == 0.9 and bad.error == "OSError: disk full" and bad.epochs == 0
    assert not [p for p in wd.rglob("*") if ".tmp-" in p.name]
    assert not (wd / "jobs" / "c0000" / "checkpoints" / "epoch-0000").exists()
    assert results.best.params.q == 0.5 and results.best.epochs == 2
