"""sweep(threads=N): jobs at once in threads of this process, same results and files."""

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hydra.core.hydra_config import HydraConfig
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mushin_nb.errors import MushinTypeError, MushinValueError
from mushin_nb.progress import EVENT_FILE_ENV, current_job
from mushin_nb.workflows import multirun, sweep


def grid_task(lr, seed, tag):
    if seed == 2 and lr == 0.5:
        raise ValueError(f"bad cell {lr} {seed}")
    where = current_job().job_dir
    (where / "artifact.txt").write_text(f"{lr} {seed} {tag}")  # the job's own dir, no chdir
    return {"score": lr * 100 + seed, "curve": np.arange(3) * lr + seed}


def _files(root: Path) -> dict[str, object]:
    """Every file of a sweep, its root path neutralised; records without their timings."""
    out: dict[str, object] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        text = path.read_text().replace(str(root), "<root>")
        if path.name == "record.json":
            text = {k: v for k, v in json.loads(text).items()
                    if k not in ("started", "finished", "duration_s")}
        out[str(path.relative_to(root))] = text
    return out


def test_two_jobs_run_at_once(in_tmp):
    barrier = threading.Barrier(2, timeout=20)  # one job at a time: both would time out

    def task(i):
        barrier.wait()
        return {"thread": threading.get_ident(), "cwd": os.getcwd(),
                "dir": str(current_job().job_dir)}

    wf = sweep(task, {"i": multirun([0, 1])}, threads=2, progress=False)
    assert wf.failures == []
    assert len(set(wf.metrics["thread"])) == 2
    assert threading.get_ident() not in wf.metrics["thread"]
    assert wf.metrics["cwd"] == [str(in_tmp)] * 2  # the process cwd is not changed per job
    assert wf.metrics["dir"] == [str(d) for d in wf.multirun_working_dirs]
    assert os.getcwd() == str(in_tmp)
    assert HydraConfig.instance().cfg is None  # the caller's Hydra state is back


def test_same_dataset_and_files_as_one_at_a_time(in_tmp):
    params = {"lr": multirun([0.1, 0.5]), "seed": multirun([0, 1, 2]), "tag": "a b"}
    serial = sweep(grid_task, params, working_dir="serial", progress=False)
    threaded = sweep(grid_task, params, working_dir="threaded", threads=3, progress=False)
    xr.testing.assert_identical(serial.to_xarray(), threaded.to_xarray())
    assert [f.overrides for f in threaded.failures] == [{"lr": 0.5, "seed": 2, "tag": "a b"}]
    assert threaded.failures[0].error == "ValueError: bad cell 0.5 2"
    files = _files(threaded.working_dir)
    assert files == _files(serial.working_dir)
    assert files["0/artifact.txt"] == "0.1 0 a b" and "5/artifact.txt" not in files
    assert {p.split("/")[0] for p in files} == {"0", "1", "2", "3", "4", "5", "multirun.yaml"}
    assert {".hydra/config.yaml", ".hydra/hydra.yaml", ".hydra/overrides.yaml"} <= {
        p.split("/", 1)[1] for p in files if p.startswith("3/")}


def test_resume_reruns_only_the_failed_job(in_tmp, mark, counts):
    flag = in_tmp / "fail"
    flag.touch()

    def task(i, root):
        mark(root, str(i))
        if i == 1 and Path(root, "fail").exists():
            raise ValueError("flaky")
        return {"v": i * 2}

    params = {"i": multirun([0, 1, 2, 3]), "root": str(in_tmp)}
    first = sweep(task, params, working_dir="s", threads=2, progress=False)
    assert [f.overrides["i"] for f in first.failures] == [1]
    flag.unlink()
    again = sweep(task, params, working_dir="s", threads=2, progress=False)
    assert again.failures == []
    assert again.to_xarray().v.values.tolist() == [0, 2, 4, 6]
    assert counts(in_tmp) == {"0": 1, "1": 2, "2": 1, "3": 1}


def test_sink_calls_never_overlap_and_see_every_job(in_tmp):
    inside, overlaps, events = [0], [], []

    class Sink:
        def _enter(self, *event):
            inside[0] += 1
            if inside[0] > 1:
                overlaps.append(event)
            time.sleep(0.01)  # widen the window a second thread would need
            events.append(event)
            inside[0] -= 1

        def start(self, labels, title=""):
            pass

        def job_start(self, i):
            self._enter("start", i)

        def job_report(self, i, step, total, metrics):
            self._enter("report", i, metrics["x"])

        def job_end(self, i, status, error=None):
            self._enter("end", i, status)

        def watch(self, i, path):
            pass

        def close(self, ok=True):
            events.append(("close", ok))

    def task(i):
        from mushin_nb.progress import report

        report(step=1, total=1, x=i)  # reaches the sink through the job's context
        return {"v": i}

    sweep(task, {"i": multirun(list(range(6)))}, threads=3, progress=Sink())
    assert overlaps == []
    for i in range(6):
        assert [e for e in events[:-1] if e[1] == i] == [("start", i), ("report", i, i),
                                                           ("end", i, "done")]
    assert events[-1] == ("close", True)


def test_os_environ_is_left_alone(in_tmp, monkeypatch):
    monkeypatch.delenv(EVENT_FILE_ENV, raising=False)
    wf = sweep(lambda i: {"env": os.environ.get(EVENT_FILE_ENV, "")}, {"i": multirun([0, 1])},
               threads=2, progress=False)
    assert wf.metrics["env"] == ["", ""] and EVENT_FILE_ENV not in os.environ


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(threads=st.integers(1, 4), values=st.lists(st.integers(-50, 50), min_size=1, max_size=5,
                                                   unique=True))
def test_any_thread_count_gives_every_job_its_value(tmp_path_factory, threads, values):
    root = tmp_path_factory.mktemp("t")
    wf = sweep(lambda x: {"y": x * 3 + 1}, {"x": multirun(values)}, working_dir=root / "s",
               threads=threads, progress=False)
    ds = wf.to_xarray()
    assert ds.x.values.tolist() == values
    assert ds.y.values.tolist() == [x * 3 + 1 for x in values]


@pytest.mark.parametrize(
    ("kwargs", "cls", "match"),
    [
        ({"threads": 0}, MushinValueError, r"`threads` must be an int >= 1, got 0.*Fix"),
        ({"threads": "2"}, MushinTypeError, r"`threads` must be an int >= 1, got '2'.*Fix"),
        ({"threads": True}, MushinTypeError, r"`threads` must be an int >= 1, got True"),
        ({"threads": 2, "launcher": "basic"}, MushinValueError,
         r"`threads` must be 1 when launcher='basic' is given.*Fix: leave launcher=None"),
    ],
)
def test_bad_threads(in_tmp, kwargs, cls, match):
    with pytest.raises(cls, match=match):
        sweep(lambda i: {"v": i}, {"i": multirun([0, 1])}, progress=False, **kwargs)
    assert not (in_tmp / "multirun").exists()
