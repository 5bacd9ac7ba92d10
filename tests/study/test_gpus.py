"""Study(gpus_per_job=): checked up front, handed to the sweep, each training's record
lists the device it trained on."""

import json

import pytest

from mushin_nb.errors import MushinValueError
from mushin_nb.study import Study


def never(seed):
    raise AssertionError("no training may run for a study with bad input")


@pytest.mark.parametrize(("changes", "match"), [
    ({"gpus_per_job": -1},
     r"`gpus_per_job` must be a number of GPUs >= 0 \(int or fraction\), got -1"),
    ({"gpus_per_job": 1, "launcher": "joblib"},
     r"launcher='joblib', which cannot place jobs on GPUs.*'ray', 'submitit_local'"),
])
def test_bad_gpus_per_job_is_refused_before_training(tmp_path, changes, match):
    with pytest.raises(MushinValueError, match=match):
        Study({"a": never, "b": never}, seeds=[0, 1], data=[(0, 1)], num_classes=10,
              working_dir=tmp_path, **changes)
    assert not (tmp_path / "sweep").exists()


def test_trainings_record_the_device_they_saw(tmp_path, test_batches, saver, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # this job was given no GPU
    study = Study({"mlp": saver("mlp"), "cnn": saver("cnn")}, seeds=[0, 1],
                  data=test_batches, num_classes=10, metrics=["accuracy"], working_dir=tmp_path,
                  progress=False,
                  gpus_per_job=1)
    study.run()
    records = [json.loads(p.read_text())
               for p in (tmp_path / "sweep").glob("*/.mushin/record.json")]
    assert len(records) == 4
    assert all(r["status"] == "done" and r["devices"] == ["cpu"] for r in records)
