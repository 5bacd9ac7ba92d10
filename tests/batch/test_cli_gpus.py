"""mushin-nb batch --gpus-per-job / --launcher: refused where GPUs cannot be placed."""

from mushin_nb.cli import main


def test_gpus_with_joblib_exit_2_naming_the_launchers_that_can(grid_nb, capsys):
    code = main(["batch", str(grid_nb), "-p", "a=1,2", "--launcher", "joblib",
                 "--gpus-per-job", "1", "--no-progress"])
    assert code == 2
    assert "launcher='joblib', which cannot place jobs on GPUs" in capsys.readouterr().err


def test_gpus_in_process_want_one_notebook_at_a_time(grid_nb, capsys):
    code = main(["batch", str(grid_nb), "-p", "a=1,2", "--jobs", "2", "--gpus-per-job", "1",
                 "--no-progress"])
    assert code == 2
    assert "`jobs` must be 1 when gpus_per_job is given in-process" in capsys.readouterr().err


def test_a_negative_gpu_count_exits_2(grid_nb, capsys):
    code = main(["batch", str(grid_nb), "-p", "a=1", "--gpus-per-job", "-1", "--no-progress"])
    assert code == 2
    assert "`gpus_per_job` must be a number of GPUs >= 0" in capsys.readouterr().err
