"""%%mushin --gpus-per-job N: parsed as a number, handed to the sweep (records list the
device each job saw), refused where it cannot be placed."""

import json

import pytest

from mushin_nb.errors import MushinValueError
from mushin_nb.notebook.cellsweep import parse_sweep_line, run_cell_sweep


def test_the_option_is_a_number_of_gpus():
    _, options = parse_sweep_line("x=1,2 --gpus-per-job 1 --launcher ray")
    assert options.gpus_per_job == 1 and isinstance(options.gpus_per_job, int)
    assert parse_sweep_line("x=1 --gpus-per-job=0.5")[1].gpus_per_job == 0.5
    assert parse_sweep_line("x=1")[1].gpus_per_job is None


def test_a_value_that_is_not_a_number_is_refused():
    with pytest.raises(MushinValueError, match=r"`--gpus-per-job` must be a number of GPUs "
                                               r"per job, got 'two'"):
        parse_sweep_line("x=1 --gpus-per-job two")


def test_the_cell_sweep_places_jobs_and_records_their_device(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    params, options = parse_sweep_line("x=1,2 --gpus-per-job 1")
    ds = run_cell_sweep("{'y': 2 * x}", params, namespace={}, working_dir=tmp_path / "wd",
                        progress=False, gpus_per_job=options.gpus_per_job)
    assert ds.y.values.tolist() == [2, 4]
    for job in ("0", "1"):
        record = json.loads((tmp_path / "wd" / job / ".mushin/record.json").read_text())
        assert record["devices"] == ["gpu:1"]


def test_joblib_cannot_place_the_cells_jobs(tmp_path):
    params, options = parse_sweep_line("x=1,2 --gpus-per-job 1 --launcher joblib")
    with pytest.raises(MushinValueError, match=r"launcher='joblib', which cannot place"):
        run_cell_sweep("{'y': x}", params, namespace={}, working_dir=tmp_path / "wd",
                       launcher=options.launcher, progress=False,
                       gpus_per_job=options.gpus_per_job)
