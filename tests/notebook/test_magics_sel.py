"""``%%mushin`` results keep the seed documents' ``sel(method=...)`` lines working.

The magic runs in IPython's own shell in a fresh interpreter (as the parser tests do), so
no other test's xarray state can make it pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap


def test_a_cell_sweep_over_methods_and_its_comparison_select_by_method(tmp_path):
    code = textwrap.dedent('''
        import json
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "mushin_nb")
        cell = '{"acc": {"cnn": 0.9, "mlp": 0.8}[method] + seed / 100}'
        shell.run_cell_magic("mushin", "method=cnn,mlp seed=0,1,2 --out ds --working-dir wd",
                             cell)
        shell.run_line_magic("mushin", "compare ds --out res")
        ns = shell.user_ns
        print(json.dumps({
            "mlp": ns["ds"].sel(method="mlp")["acc"].values.tolist(),
            "cnn_1": float(ns["ds"]["acc"].sel(method="cnn", seed=1)),
            "res_mlp": ns["res"].data.sel(method="mlp")["acc"].values.tolist(),
            "res_cnn_2": float(ns["res"].data["acc"].sel(method="cnn", seed=2))}))
        ''')
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"mlp": [0.8, 0.81, 0.8 + 0.02], "cnn_1": 0.9 + 0.01,
                   "res_mlp": [0.8, 0.81, 0.8 + 0.02], "res_cnn_2": 0.9 + 0.02}
