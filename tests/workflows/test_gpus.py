"""gpus_per_job: bad values, launchers that cannot place GPUs, Ray that does not answer or
has too few GPUs (all before anything is written); in-process jobs record their device."""

import json
import socket
import time

import pytest

from mushin_nb.errors import MushinRuntimeError, MushinTypeError, MushinValueError
from mushin_nb.workflows import multirun, sweep
from mushin_nb.workflows._placement import visible_devices
from mushin_nb.workflows._ray import CONNECT_TIMEOUT_S


def task(x):
    return {"y": x}


PARAMS = {"x": multirun([1, 2])}


@pytest.mark.parametrize("bad", [-1, -0.5, float("nan")])
def test_negative_gpus_per_job_is_refused(tmp_path, bad):
    with pytest.raises(MushinValueError, match=r"`gpus_per_job` must be a number of GPUs >= 0"):
        sweep(task, PARAMS, working_dir=tmp_path / "wd", gpus_per_job=bad, progress=False)
    assert not (tmp_path / "wd").exists()


@pytest.mark.parametrize("bad", ["1", True, [1]])
def test_gpus_per_job_of_the_wrong_type_is_refused(tmp_path, bad):
    with pytest.raises(MushinTypeError, match=r"`gpus_per_job` must be a number"):
        sweep(task, PARAMS, working_dir=tmp_path / "wd", gpus_per_job=bad, progress=False)


def test_joblib_cannot_place_gpus_and_the_error_names_the_launchers_that_can(tmp_path):
    with pytest.raises(MushinValueError, match=r"launcher='joblib', which cannot place jobs "
                       r"on GPUs.*'ray', 'submitit_local', 'submitit_slurm'"):
        sweep(task, PARAMS, working_dir=tmp_path / "wd", launcher="joblib", gpus_per_job=1,
              progress=False)
    assert not (tmp_path / "wd").exists()


def test_submitit_wants_whole_gpus(tmp_path):
    with pytest.raises(MushinValueError, match=r"a whole number with launcher='submitit_local'"):
        sweep(task, PARAMS, working_dir=tmp_path / "wd", launcher="submitit_local",
              gpus_per_job=0.5, progress=False)


def test_in_process_gpu_jobs_run_one_at_a_time(tmp_path):
    with pytest.raises(MushinValueError, match=r"`threads` must be 1 when gpus_per_job"):
        sweep(task, PARAMS, working_dir=tmp_path / "wd", gpus_per_job=1, threads=2,
              progress=False)


def test_in_process_jobs_record_the_device_they_saw(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    wf = sweep(task, PARAMS, working_dir=tmp_path / "wd", gpus_per_job=1, progress=False)
    assert wf.to_xarray().y.values.tolist() == [1, 2]
    for job in ("0", "1"):
        record = json.loads((tmp_path / "wd" / job / ".mushin/record.json").read_text())
        assert record["devices"] == ["gpu:3"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert visible_devices() == ["cpu"] or visible_devices()[0].startswith("gpu:")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_ray_address_that_does_not_answer_fails_fast_writing_nothing(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    address = f"127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(MushinRuntimeError, match=rf"Ray cluster at hydra.launcher.ray.init."
                       rf"address='{address}' did not answer within"):
        sweep(task, PARAMS, working_dir=tmp_path / "wd", launcher="ray", progress=False,
              overrides=[f"hydra.launcher.ray.init.address={address}"])
    assert time.monotonic() - started < CONNECT_TIMEOUT_S + 5
    assert not (tmp_path / "wd").exists()


def test_more_gpus_than_ray_has_fails_before_any_job_naming_both(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    with pytest.raises(MushinValueError, match=r"asks 3 GPUs per job but the Ray cluster has 2"):
        sweep(task, PARAMS, working_dir=tmp_path / "wd", launcher="ray", gpus_per_job=3,
              progress=False, overrides=["hydra.launcher.ray.init.num_gpus=2"])
    assert not (tmp_path / "wd").exists()
