"""%%mushin and %mushin in a real Jupyter kernel (nbclient), checked cell by cell."""

from __future__ import annotations

import json
import math
import shlex
import textwrap

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from scipy import stats


def _cells(tmp) -> dict[str, str]:
    wd, wd2, wd3 = (shlex.quote(str(tmp / name)) for name in ("sweep a", "resume", "never"))
    sweep = f"""
            %%mushin lr=0.1,0.01 seed=range(0,3) epochs=2 --out ds --working-dir {wd}
            with open(COUNT, "a") as fh:
                fh.write(f"{{lr}} {{seed}}\\n")
            if lr == 0.01 and seed == 2:
                raise ValueError("diverged at lr=0.01")
            score = bump(base) + lr * 10 + seed * epochs
            {{"score": score, "partial": sum(lr * s for s in range(seed + 1))}}
            """
    return {
        "setup": f"""
            %load_ext mushin_nb
            import json
            base = 100
            def bump(x):
                return x + 1
            COUNT = {str(tmp / "count.txt")!r}
            COUNT2 = {str(tmp / "count2.txt")!r}
            def lines(path):
                with open(path) as fh:
                    return len(fh.readlines())
            """,
        "sweep": sweep,
        "inspect": """
            print(json.dumps({
                "dims": list(ds.score.dims), "lr": ds.lr.values.tolist(),
                "seed": ds.seed.values.tolist(), "attrs": ds.attrs,
                "score": [[None if v != v else v for v in row] for row in ds.score.values.tolist()],
                "partial": [[None if v != v else v for v in row]
                            for row in ds.partial.values.tolist()],
                "leaked": [n for n in ("lr", "seed", "epochs", "score", "fh") if n in globals()],
                "runs": lines(COUNT)}))
            """,
        "rerun": sweep,  # the same cell again: resume runs only the failed job
        "after_rerun": "print(lines(COUNT))",
        "resume_a": f"""
            %%mushin x=1,2,3 --out sq --working-dir {wd2}
            with open(COUNT2, "a") as fh:
                fh.write("ran\\n")
            {{"y": x * x}}
            """,
        "resume_b": f"""
            %%mushin x=1,2,3 --out sq --working-dir {wd2}
            with open(COUNT2, "a") as fh:
                fh.write("ran\\n")
            {{"y": x * x}}
            """,
        "after_resume": "print(lines(COUNT2), sq.y.values.tolist())",
        "no_resume": f"""
            %%mushin x=1,2,3 --out sq --working-dir {wd2} --no-resume
            with open(COUNT2, "a") as fh:
                fh.write("ran\\n")
            {{"y": x * x}}
            """,
        "after_no_resume": "print(lines(COUNT2))",
        "edited": f"""
            %%mushin x=1,2,3 --out sq2 --working-dir {wd2}
            {{"y": x * x * x}}
            """,
        "record": """
            %%mushin k=1,2
            import mushin_nb
            mushin_nb.record(sq=k * k)
            mushin_nb.record("cube", k ** 3)
            {"double": 2 * k}
            """,
        "after_record": "print(json.dumps({v: _mushin[v].values.tolist() for v in _mushin}))",
        "line_error": """
            %%mushin lr=0.1,,0.01 seed=range(0,5)
            {"x": 1}
            """,
        "body_error": f"""
            %%mushin a=1,2 --working-dir {wd3}
            x = (
            {{"a": a}}
            """,
        "load": f"""
            %mushin load {wd} --out back
            print(back.identical(ds))
            """,
        "joblib": """
            %%mushin x=1,2 --launcher joblib --out jl
            import mushin_nb
            mushin_nb.record(y=bump(x) * base)
            """,
        "after_joblib": "print(jl.y.values.tolist())",
        "compare_sweep": """
            %%mushin method=base,mixup seed=range(0,6) --out runs
            import numpy as np
            rng = np.random.default_rng(seed)
            {"acc": (0.9 if method == "mixup" else 0.8) + 0.01 * rng.standard_normal()}
            """,
        "compare": "%mushin compare runs --over seed",
        "plan": "%mushin plan runs --over seed --test student --power 0.9",
        "after_plan": "print(json.dumps(_mushin_plan.astype(str).to_dict('records')))",
        "after_compare": """
            c = _mushin_compare.comparisons
            print(json.dumps(c[["method_a", "method_b", "p_value"]].to_dict("records")))
            """,
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("magics")
    cells = _cells(tmp)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(src).strip()) for src in cells.values()]
    # every cell runs: a failing one is reported by its own test, not by all the others
    NotebookClient(nb, timeout=180, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp)}}).execute()
    return tmp, dict(zip(cells, nb.cells))


def _ok(cell) -> str:
    """The cell's stdout; fails with the kernel's traceback when the cell raised."""
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert not errors, "\n".join(errors[0].traceback)
    return "".join(o.text for o in cell.outputs
                   if o.output_type == "stream" and o.name == "stdout")


def _stderr(cell) -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream"
                   and o.name == "stderr")


def _error(cell):
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert len(errors) == 1, "the cell should have raised"
    return errors[0]


def test_dataset_lands_in_the_namespace_with_the_cells_values(run):
    _, cells = run
    out = _ok(cells["sweep"])
    got = json.loads(_ok(cells["inspect"]))
    assert got["dims"] == ["lr", "seed"] and got["lr"] == [0.1, 0.01] and got["seed"] == [0, 1, 2]
    assert got["attrs"] == {"epochs": 2}
    for i, lr in enumerate([0.1, 0.01]):
        for seed in range(3):
            failed = lr == 0.01 and seed == 2
            score = None if failed else 101 + lr * 10 + seed * 2
            partial = None if failed else sum(lr * s for s in range(seed + 1))
            assert got["score"][i][seed] == (None if failed else pytest.approx(score))
            assert got["partial"][i][seed] == (None if failed else pytest.approx(partial))
    assert got["leaked"] == []  # job variables never reach the notebook
    assert got["runs"] == 6
    # the failure is summarised, and the Dataset is displayed
    assert "5 done, 1 failed" in out and "diverged at lr=0.01" in out
    html = [o.data["text/html"] for o in cells["sweep"].outputs
            if o.output_type == "display_data" and "text/html" in o.data]
    assert any("xarray.Dataset" in page and "score" in page for page in html)


def test_the_cell_is_kept_with_the_sweep(run):
    tmp, cells = run
    body = textwrap.dedent(_cells(tmp)["sweep"]).strip().split("\n", 1)[1]
    assert (tmp / "sweep a" / "mushin_cell.py").read_text().strip() == body.strip()


def test_rerun_resumes_only_the_failed_job(run):
    _, cells = run
    out = _ok(cells["rerun"])
    assert "5 from earlier runs" in out
    assert _ok(cells["after_rerun"]).split() == ["7"]  # 6 first time + the failed job again


def test_resume_runs_nothing_when_all_jobs_are_done(run):
    _, cells = run
    _ok(cells["resume_a"])
    _ok(cells["resume_b"])
    assert _ok(cells["after_resume"]).strip() == "3 [1, 4, 9]"
    _ok(cells["no_resume"])
    assert _ok(cells["after_no_resume"]).strip() == "6"


def test_an_edited_cell_warns_before_reusing_old_results(run):
    _, cells = run
    _ok(cells["edited"])
    assert "The cell differs from the one that computed the results" in _stderr(cells["edited"])


def test_record_and_last_expression_give_the_metrics(run):
    _, cells = run
    _ok(cells["record"])
    assert json.loads(_ok(cells["after_record"])) == {"sq": [1, 4], "cube": [1, 8],
                                                      "double": [2, 4]}


def test_a_line_syntax_error_says_where(run):
    _, cells = run
    error = _error(cells["line_error"])
    assert error.ename == "MushinSyntaxError"
    assert "at column 8: extraneous input ','" in error.evalue
    assert "    lr=0.1,,0.01 seed=range(0,5)\n           ^" in error.evalue
    assert "cellsweep.py" not in "\n".join(error.traceback)  # our frames are not the story


def test_a_cell_syntax_error_runs_no_job(run):
    tmp, cells = run
    error = _error(cells["body_error"])
    assert error.ename == "MushinSyntaxError"
    assert "does not compile, line 1, column 5: '(' was never closed" in error.evalue
    assert "    x = (\n        ^" in error.evalue and "no job was run" in error.evalue
    assert not (tmp / "never").exists()


def test_load_rebuilds_the_same_dataset(run):
    _, cells = run
    assert _ok(cells["load"]).strip() == "True"


def test_joblib_launcher_runs_the_cell_in_worker_processes(run):
    _, cells = run
    _ok(cells["joblib"])
    assert json.loads(_ok(cells["after_joblib"])) == [200, 300]


def test_compare_shows_summary_and_pvalues_equal_to_scipy(run):
    _, cells = run
    _ok(cells["compare_sweep"])
    _ok(cells["compare"])
    shown = [o.data for o in cells["compare"].outputs if o.output_type == "display_data"]
    text = "\n".join(d.get("text/markdown", d.get("text/plain", "")) for d in shown)
    assert "Holm-adjusted p-values" in text and "mixup" in text and "ci_low" in text
    acc = {m: [(0.9 if m == "mixup" else 0.8)
               + 0.01 * np.random.default_rng(s).standard_normal() for s in range(6)]
           for m in ("base", "mixup")}
    reference = stats.ttest_ind(acc["base"], acc["mixup"], equal_var=False).pvalue
    (row,) = json.loads(_ok(cells["after_compare"]))
    assert {row["method_a"], row["method_b"]} == {"base", "mixup"}
    assert math.isclose(row["p_value"], reference, rel_tol=1e-9)


def test_plan_shows_the_seed_plan_equal_to_statsmodels(run):
    from statsmodels.stats.power import TTestIndPower

    _, cells = run
    _ok(cells["compare_sweep"])
    _ok(cells["plan"])
    shown = [o.data for o in cells["plan"].outputs if o.output_type == "display_data"]
    assert "Seed plan" in "\n".join(d.get("text/markdown", "") for d in shown)
    (row,) = json.loads(_ok(cells["after_plan"]))
    acc = {m: np.array([(0.9 if m == "mixup" else 0.8)
                        + 0.01 * np.random.default_rng(s).standard_normal() for s in range(6)])
           for m in ("base", "mixup")}
    sd = math.sqrt((acc["base"].var(ddof=1) + acc["mixup"].var(ddof=1)) / 2)
    d = TTestIndPower().solve_power(nobs1=6, power=0.9, alpha=0.05)
    assert math.isclose(float(row["detectable_effect"]), d * sd, rel_tol=1e-3)
    assert row["test"] == "student" and int(row["seeds_needed"]) == 2

