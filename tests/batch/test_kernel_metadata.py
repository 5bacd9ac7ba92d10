"""Which kernel a batch runs on: a notebook without kernel metadata, one naming a missing kernel.

Real papermill runs through the installed ``mushin-nb`` script and ``run_notebook``; the
notebooks are written with ``nbformat.v4.new_notebook()``, which sets no kernelspec.
"""

from __future__ import annotations

import subprocess
import warnings

import nbformat
import pytest

from mushin_nb.batch import run_notebook
from mushin_nb.errors import MushinValueError
from mushin_nb.workflows import multirun


def _notebook(path, kernelspec=None):
    nb = nbformat.v4.new_notebook()  # metadata {}: no kernelspec, no language_info
    if kernelspec is not None:
        nb.metadata["kernelspec"] = kernelspec
    params = nbformat.v4.new_code_cell("a = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "import sys, mushin_nb\nmushin_nb.record(double=a * 2, python=sys.executable)")]
    nbformat.write(nb, path)
    return path


def test_a_notebook_without_kernel_metadata_runs_on_this_python(mushin_nb_cmd, tmp_path):
    nb = _notebook(tmp_path / "bare.ipynb")
    assert "kernelspec" not in nbformat.read(nb, as_version=4).metadata
    out = subprocess.run([mushin_nb_cmd, "batch", str(nb), "-p", "a=1,2", "--working-dir",
                          "sweep", "-o", "out.nc"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1].startswith("mushin-nb batch: bare.ipynb: 2 jobs, 2 done")
    said = [line for line in out.stderr.splitlines() if "names no kernel" in line]
    assert len(said) == 1 and "'python3', the current Python's kernel" in said[0]
    assert "No language found" not in out.stderr


def test_run_notebook_without_kernel_metadata_records_its_values(tmp_path):
    nb = _notebook(tmp_path / "bare.ipynb")
    with pytest.warns(UserWarning, match=r"bare.ipynb names no kernel") as caught:
        ds = run_notebook(nb, {"a": multirun([3, 4])}, working_dir=tmp_path / "s",
                          progress=False)
    assert len([w for w in caught if "names no kernel" in str(w.message)]) == 1
    assert ds["double"].values.tolist() == [6, 8]


def test_a_kernel_that_is_not_installed_fails_once_before_any_job(tmp_path):
    nb = _notebook(tmp_path / "other.ipynb", {"name": "julia-1.9", "language": "julia",
                                             "display_name": "Julia 1.9"})
    with pytest.raises(MushinValueError, match=r"other.ipynb names the kernel 'julia-1.9' "
                       r"\(metadata.kernelspec.name\), which is not installed; the installed "
                       r"kernels are \[.*'python3'.*\]\. Fix: pass kernel_name="):
        run_notebook(nb, {"a": multirun([1, 2])}, working_dir=tmp_path / "s")
    assert not (tmp_path / "s").exists()  # no job started


def test_a_named_installed_kernel_runs_without_a_word(tmp_path):
    nb = _notebook(tmp_path / "named.ipynb", {"name": "python3", "language": "python",
                                             "display_name": "Python 3"})
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*names no kernel")
        ds = run_notebook(nb, {"a": 5}, working_dir=tmp_path / "s", progress=False)
    assert ds["double"].item() == 10
