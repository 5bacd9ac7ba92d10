"""Study(margin=) reaches compare(): its result carries the TOST p-values and verdicts, equal
to statsmodels' on the scores it evaluated; a bad margin fails before anything runs."""

from __future__ import annotations

import pytest
import torch
from statsmodels.stats.weightstats import ttost_ind

from mushin_nb.errors import MushinValueError
from mushin_nb.study import Study


def test_study_with_a_margin_gives_verdicts(tmp_path, train_tiny, test_batches):
    paths = {}
    for arch in ("cnn", "mlp"):
        paths[arch] = []
        for seed in (0, 1, 2):
            path = tmp_path / f"{arch}{seed}.pt"
            torch.save(train_tiny(arch, seed), path)
            paths[arch].append(path)
    result = Study.from_checkpoints(checkpoints=paths, data=test_batches, num_classes=10,
                                    metrics=["accuracy"], progress=False, margin=0.05).run()
    row = result.comparisons.iloc[0]
    a = result.data["accuracy"].sel({"method": "cnn"}).values
    b = result.data["accuracy"].sel({"method": "mlp"}).values
    assert row["p_equivalence"] == pytest.approx(ttost_ind(a, b, -0.05, 0.05,
                                                           usevar="unequal")[0], rel=1e-9)
    assert row["verdict"] in ("better", "worse", "equivalent", "inconclusive")
    assert result.margin == 0.05 and result.bounds == {"accuracy": (0.0, 1.0)}


def test_a_bad_margin_fails_before_training(tmp_path):
    with pytest.raises(MushinValueError, match="`margin` must be a finite number > 0"):
        Study({"a": lambda seed: "x"}, seeds=[0, 1], data=[(1, 2)], num_classes=2,
              working_dir=tmp_path, margin=-1.0)
