"""update_together: k batteries fed in one pass equal k batteries fed one at a time."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from mushin_nb.metrics import Battery
from mushin_nb.metrics.battery import update_together


def _probs(k, shape, c, seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(k, shape[0], c, *shape[1:], generator=g).softmax(2).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])  # numpy and torch state
@pytest.mark.parametrize(("shape", "ignore"), [((40,), None), ((6, 3, 4), 2)])
def test_together_equals_one_at_a_time(shape, ignore, dtype):
    k, c = 4, 5
    together = [Battery(c, ignore_index=ignore, metrics=["accuracy", "f1", "ece", "auroc",
                                                          "miou"]) for _ in range(k)]
    alone = [Battery(c, ignore_index=ignore, metrics=["accuracy", "f1", "ece", "auroc",
                                                       "miou"]) for _ in range(k)]
    for batch in range(3):
        probs = _probs(k, shape, c, batch, dtype)
        targets = torch.randint(0, c, shape, generator=torch.Generator().manual_seed(9 + batch))
        update_together(together, probs, targets)
        for battery, p in zip(alone, probs):
            battery.update(p, targets)
    for one, other in zip(together, alone):
        assert one.n_samples == other.n_samples
        assert one.compute() == pytest.approx(other.compute(), abs=1e-12)


def test_together_matches_scikit_learn():
    k, c, n = 3, 4, 60
    probs = _probs(k, (n,), c, 1)
    targets = torch.randint(0, c, (n,), generator=torch.Generator().manual_seed(2))
    batteries = [Battery(c, metrics=["accuracy", "f1", "auroc"]) for _ in range(k)]
    update_together(batteries, probs, targets)
    for battery, p in zip(batteries, probs):
        pred = p.argmax(1)
        assert battery.compute() == pytest.approx({
            "accuracy": accuracy_score(targets, pred),
            "f1": f1_score(targets, pred, average="macro"),
            "auroc": roc_auc_score(targets, p, multi_class="ovr", average="macro")})


def test_batteries_of_other_settings_or_own_metrics_are_fed_one_at_a_time():
    probs = _probs(2, (10,), 3, 0)
    targets = torch.randint(0, 3, (10,), generator=torch.Generator().manual_seed(0))
    mixed = [Battery(3, metrics=["accuracy"]),
             Battery(3, metrics={"top": lambda p, t: float((p.argmax(1) == t).float().mean())})]
    update_together(mixed, probs, targets)
    expected = float((probs[1].argmax(1) == targets).float().mean())
    assert mixed[1].compute() == {"top": pytest.approx(expected)}
    assert mixed[0].compute()["accuracy"] == pytest.approx(
        float((probs[0].argmax(1) == targets).float().mean()))


def test_bad_batches_raise_as_a_single_battery_does():
    batteries = [Battery(3) for _ in range(2)]
    probs = _probs(2, (5,), 3, 0)
    with pytest.raises(ValueError, match="outside"):
        update_together(batteries, probs, torch.tensor([0, 1, 2, 3, 0]))
    probs[1, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        update_together(batteries, probs, torch.tensor([0, 1, 2, 1, 0]))
    assert all(b.n_samples == 0 for b in batteries)  # nothing counted from a refused batch
