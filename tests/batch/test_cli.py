"""The `mushin-nb` command: batch runs through the installed script, and `show`."""

import subprocess

import numpy as np
import pytest
import xarray as xr
from scipy import stats as sps

from mushin_nb.cli import main
from mushin_nb.compare import BenchmarkResult
from mushin_nb.results import load_results, save_netcdf


def _run(cmd, *args, cwd):
    return subprocess.run([cmd, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_batch_exits_1_on_a_failed_job_and_resumes_to_0(mushin_nb_cmd, grid_nb, tmp_path,
                                                        monkeypatch, capsys):
    flag, counter = tmp_path / "fail.flag", tmp_path / "counter.txt"
    flag.touch()
    args = ["batch", str(grid_nb), "-p", "a=1,2", "-p", "b=20", "-p", f"fail_flag='{flag}'",
            "-p", f"counter='{counter}'", "--working-dir", "sweep", "-o", "out.nc"]
    first = _run(mushin_nb_cmd, *args, cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    assert first.stdout.splitlines()[-1] == (
        f"mushin-nb batch: batch_grid.ipynb: 2 jobs, 1 done, 1 failed; working dir "
        f"{tmp_path / 'sweep'}; results out.nc")
    failed = [line for line in first.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and "(a=2 " in failed[0]
    assert "notebook batch_grid.ipynb failed in cell 3" in failed[0]
    assert "ValueError: boom at a=2" in failed[0]
    assert "2/2" in first.stderr  # the live text progress bar reached the end
    ds = load_results(tmp_path / "out.nc")
    assert ds["value"].dims == ("a",) and ds.attrs["b"] == 20
    assert ds["value"].sel(a=1).item() == 1 * 10 + 20 and np.isnan(ds["value"].sel(a=2))

    flag.unlink()
    monkeypatch.chdir(tmp_path)  # the same command, in-process this time (no start-up cost)
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(
        "mushin-nb batch: batch_grid.ipynb: 2 jobs, 2 done, 0 failed;")
    assert counter.read_text().splitlines() == ["1,20", "2,20", "2,20"]  # only a=2 re-ran
    ds = load_results(tmp_path / "out.nc")
    assert ds["value"].values.tolist() == [30, 40]

    show = _run(mushin_nb_cmd, "show", "out.nc", cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    assert show.stdout.startswith("<xarray.Dataset>") and "value" in show.stdout
    assert "BenchmarkResult" not in show.stdout  # a sweep over `a` has no summary table


def test_batch_refuses_bad_input_with_exit_2(capsys, tmp_path):
    assert main(["batch", str(tmp_path / "missing.ipynb"), "-p", "a=1"]) == 2
    assert "error: `path` must be an existing notebook file" in capsys.readouterr().err


@pytest.fixture
def scores():
    rng = np.random.default_rng(7)
    acc = np.stack([rng.normal(0.90, 0.01, 6), rng.normal(0.80, 0.01, 6)])
    return xr.Dataset({"acc": (("method", "seed"), acc)},
                      coords={"method": ["big", "small"], "seed": np.arange(6)})


def test_show_prints_the_summary_of_a_method_seed_result(scores, tmp_path, capsys):
    save_netcdf(scores, tmp_path / "scores.nc")
    assert main(["show", str(tmp_path / "scores.nc")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<xarray.Dataset>")
    rows = {line.split()[0]: line for line in out.splitlines()
            if line.split()[:2] in (["big", "acc"], ["small", "acc"])}
    for method, values in zip(["big", "small"], scores["acc"].values):
        low, high = sps.t.interval(0.95, len(values) - 1, loc=values.mean(),
                                   scale=sps.sem(values))
        assert f"{values.mean():.4g}" in rows[method]
        assert f"[{low:.4g}, {high:.4g}]" in rows[method]
    # one pair, so Holm leaves Welch's p as it is
    assert sps.ttest_ind(*scores["acc"].values, equal_var=False).pvalue < 0.05
    assert rows["small"].rstrip().endswith("*") and not rows["big"].rstrip().endswith("*")


def test_show_keeps_the_statistics_saved_with_a_result(scores, tmp_path, capsys):
    BenchmarkResult.from_dataset(scores, test="mannwhitney").to_netcdf(tmp_path / "r.nc")
    assert main(["show", str(tmp_path / "r.nc")]) == 0
    assert "test=mannwhitney" in capsys.readouterr().out


def test_show_a_missing_file_exits_2(tmp_path, capsys):
    assert main(["show", str(tmp_path / "nope.nc")]) == 2
    assert capsys.readouterr().err.startswith("mushin-nb show: error: ")
