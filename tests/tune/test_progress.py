"""Live progress: one job per candidate and seed, reported through the sink contract of
mushin_nb.progress (a recording sink here; tqdm text outside notebooks)."""

from __future__ import annotations

from collections import Counter

from mushin_nb import report
from mushin_nb.tune import tune
from tests.tune.conftest import Scripted


class Recorder:
    """A sink that keeps every call, to check the contract tune() follows."""

    def __init__(self):
        self.calls = []

    def start(self, labels, title=""):
        self.calls.append(("start", list(labels), title))

    def job_start(self, index):
        self.calls.append(("job_start", index))

    def job_report(self, index, step, total, metrics):
        self.calls.append(("report", index, step, total, dict(metrics)))

    def job_end(self, index, status, error=None):
        self.calls.append(("end", index, status, error))

    def watch(self, index, event_file):
        self.calls.append(("watch", index))

    def close(self, ok=True):
        self.calls.append(("close", ok))

    def of(self, kind):
        return [c for c in self.calls if c[0] == kind]


class Chatty(Scripted):
    """Reports half-epochs itself, as training code calling mushin_nb.report() would."""

    def train_epoch(self, epoch):
        report(step=epoch, total=None, half=0.5)
        return super().train_epoch(epoch)


def test_one_job_per_candidate_and_seed_each_ended_once(wd):
    sink = Recorder()
    tune(Chatty(fail={"q": 0.1, "epoch": 0}), [{"q": q} for q in (0.1, 0.5, 0.9)],
         rounds=[1, 3], reduction=2, seeds=[0, 1], working_dir=wd, progress=sink)
    (start,) = sink.of("start")
    assert start[1] == ["#0 q=0.1 seed=0", "#0 q=0.1 seed=1", "#1 q=0.5 seed=0",
                        "#1 q=0.5 seed=1", "#2 q=0.9 seed=0", "#2 q=0.9 seed=1"]
    assert start[2] == "tune 3 candidates"
    ends = {c[1]: c[2] for c in sink.of("end")}
    assert len(sink.of("end")) == 6 == len(ends)
    assert ends == {0: "failed", 1: "skipped", 2: "done", 3: "done", 4: "done", 5: "done"}
    assert sink.of("end")[0][3] == "RuntimeError: boom at q=0.1 epoch=0"
    assert Counter(c[1] for c in sink.of("job_start")) == {0: 1, 2: 1, 3: 1, 4: 1, 5: 1}
    # a report per finished epoch, with the round's epoch budget as total
    epochs = [(c[1], c[2], c[3]) for c in sink.of("report") if "score" in c[4]]
    assert epochs == [(2, 1, 1), (3, 1, 1), (4, 1, 1), (5, 1, 1),
                      (2, 2, 3), (2, 3, 3), (3, 2, 3), (3, 3, 3),
                      (4, 2, 3), (4, 3, 3), (5, 2, 3), (5, 3, 3)]
    # the trainer's own report() calls reach the sink under the right job
    half = [(c[1], c[2]) for c in sink.of("report") if "half" in c[4]]
    assert half[:3] == [(0, 0), (2, 0), (3, 0)]
    assert sink.calls[-1] == ("close", False)  # a failure turns the bar red


def test_elimination_ends_the_job_when_the_round_is_decided(wd):
    sink = Recorder()
    tune(Scripted(), [{"q": q} for q in (0.1, 0.9)], rounds=[1, 2], reduction=2,
         working_dir=wd, progress=sink)
    kinds = [(c[0], c[1]) for c in sink.calls if c[0] in {"end", "job_start"}]
    assert kinds == [("job_start", 0), ("job_start", 1), ("end", 0), ("end", 1)]
    assert sink.calls[-1] == ("close", True)


def test_rerun_of_a_finished_tuning_skips_every_job(wd):
    args = dict(rounds=[1, 2], reduction=2, working_dir=wd)
    tune(Scripted(), [{"q": q} for q in (0.1, 0.9, 0.5)], progress=False, **args)
    sink = Recorder()
    tune(Scripted(), [{"q": q} for q in (0.1, 0.9, 0.5)], progress=sink, **args)
    assert sink.of("job_start") == [] and sink.of("report") == []
    assert sorted(c[1:3] for c in sink.of("end")) == [(0, "skipped"), (1, "skipped"),
                                                      (2, "skipped")]


def test_text_progress_outside_notebooks(wd, monkeypatch, capsys):
    monkeypatch.delenv("MUSHIN_NB_PROGRESS")
    tune(Scripted(), [{"q": q} for q in (0.1, 0.9)], rounds=[1], working_dir=wd)
    err = capsys.readouterr().err
    assert "tune 2 candidates" in err and "2/2" in err


def test_on_workers_every_jobs_epochs_reach_the_tunings_own_list(wd):
    from mushin_nb.progress._poller import WatchMixin

    class Watching(WatchMixin, Recorder):  # follows event files, as the notebook's does
        poll_interval = 0.05

        def close(self, ok=True):
            self._stop_watching()
            super().close(ok)

    sink = Watching()
    tune(Chatty(fail={"q": 0.1, "epoch": 0}), [{"q": q} for q in (0.1, 0.5, 0.9)],
         rounds=[1, 3], reduction=2, seeds=[0, 1], working_dir=wd, progress=sink,
         launcher="joblib", overrides=["hydra.launcher.n_jobs=2"])
    ends = {c[1]: c[2] for c in sink.of("end")}
    assert len(sink.of("end")) == 6
    # the failing candidate's seeds: one fails, the other is skipped, or fails too when a
    # worker had it in training already (a candidate's seeds train side by side)
    assert sorted((ends.pop(0), ends.pop(1))) in (["failed", "skipped"], ["failed", "failed"])
    assert ends == {2: "done", 3: "done", 4: "done", 5: "done"}
    # each job's epoch reports, in order, under its own index, from whichever worker
    epochs = {}
    for c in sink.calls:
        if c[0] == "report" and "score" in c[4]:
            epochs.setdefault(c[1], []).append((c[2], c[3]))
    assert epochs == {i: [(1, 1), (2, 3), (3, 3)] for i in (2, 3, 4, 5)}
    half = {c[1] for c in sink.calls if c[0] == "report" and "half" in c[4]}
    assert half - {0, 1} == {2, 3, 4, 5} and half & {0, 1}  # the trainer's own reports too
