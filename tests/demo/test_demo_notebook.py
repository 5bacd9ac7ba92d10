"""`mushin-nb demo` runs the quickstart notebook through the batch machinery."""

import nbformat
import pandas as pd
from scipy import stats

from mushin_nb import _demo
from mushin_nb.cli import main
from mushin_nb.compare import BenchmarkResult


def test_demo_command_executes_the_quickstart_notebook(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quick", "--seeds", "2"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"results.nc", "comparisons.csv", "summary.csv", "report.html", "summary.png",
            _demo.QUICKSTART.name} <= names
    executed = nbformat.read(out / _demo.QUICKSTART.name, as_version=4)
    assert executed.metadata["papermill"]["parameters"]["seeds"] == 2
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
    result = BenchmarkResult.load(out / "results.nc")
    acc = result.data["accuracy"]
    row = result.comparisons.query("metric == 'accuracy'").iloc[0]
    welch = stats.ttest_ind(acc.sel({"method": row.method_a}).values,
                            acc.sel({"method": row.method_b}).values, equal_var=False)
    assert row.p_value == welch.pvalue or abs(row.p_value - welch.pvalue) < 1e-12
    assert "written to" in capsys.readouterr().out
    assert len(pd.read_csv(out / "summary.csv")) == len(result.methods) * len(result.metrics)
