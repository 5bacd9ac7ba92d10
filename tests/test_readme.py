"""The README's example runs as written and gives a real (method, seed) result."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(in_tmp, capsys):
    text = README.read_text(encoding="utf-8")
    code = re.search(r"```python\n(import torch.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)  # noqa: S102  our own README
    result = namespace["result"]
    assert dict(result.data.sizes) == {"method": 2, "seed": 3}
    assert float(result.data["accuracy"].min()) > 0.8  # five epochs on digits learn it
    assert "cnn" in capsys.readouterr().out
    assert len(list((in_tmp / "runs/readme/checkpoints").glob("*.pt"))) == 6
