"""compare(): the seeds of one architecture share one vmapped forward, with equal values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score

from mushin_nb import compare
from mushin_nb.experiments.digits import digits_tensors
from mushin_nb.experiments.zoo import digits_cnn, digits_mlp
from mushin_nb.train import StackedForward, same_structure_groups


def _seeded(build, seed):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build()
    with torch.no_grad():  # spread the logits, so the predictions differ by seed
        for p in model.parameters():
            p.mul_(3.0)
    return model


@pytest.fixture(scope="module")
def test_data():
    x, y = digits_tensors(train=False, seed=0)
    return [(x[:200], y[:200]), (x[200:], y[200:])]


def test_vectorized_scores_equal_one_model_at_a_time_and_sklearn(test_data):
    models = {"mlp": [_seeded(lambda: digits_mlp(hidden=16), s) for s in range(3)],
              "cnn": [_seeded(lambda: digits_cnn(channels=4), s) for s in range(3)],
              "mixed": [_seeded(lambda: digits_mlp(hidden=8), 0),
                        _seeded(lambda: digits_mlp(hidden=16), 1),
                        _seeded(lambda: digits_mlp(hidden=8), 2)]}
    kwargs = dict(num_classes=10, metrics=["accuracy", "f1", "ece", "auroc"])
    together = compare(models, test_data, vectorize=True, **kwargs).data
    alone = compare(models, test_data, vectorize=False, **kwargs).data
    for name in ("accuracy", "f1", "ece", "auroc"):
        np.testing.assert_allclose(together[name].values, alone[name].values, rtol=0,
                                   atol=1e-6)
    x = torch.cat([b[0] for b in test_data])
    y = torch.cat([b[1] for b in test_data]).numpy()
    for method, runs in models.items():
        for seed, model in enumerate(runs):
            predicted = model.eval()(x).argmax(1).numpy()
            cell = {"method": method, "seed": seed}
            assert together["accuracy"].sel(cell).item() == pytest.approx(
                accuracy_score(y, predicted), abs=1e-12)
            assert together["f1"].sel(cell).item() == pytest.approx(
                f1_score(y, predicted, average="macro"), abs=1e-6)
    assert len(set(together["accuracy"].sel({"method": "mlp"}).values.tolist())) > 1


def test_auto_shares_the_forward_on_cuda_only_and_bad_values_are_named(test_data):
    from mushin_nb.compare._compare import _vectorized
    from mushin_nb.errors import MushinError

    assert [_vectorized("auto", d) for d in (None, "cpu", "cuda", "cuda:1")] == [
        False, False, True, True]
    assert _vectorized(True, "cpu") and not _vectorized(False, "cuda")
    models = {"a": [_seeded(lambda: digits_mlp(hidden=8), s) for s in range(2)]}
    with pytest.raises(MushinError, match=r"`vectorize` must be True, False or 'auto'"):
        compare(models, test_data, num_classes=10, vectorize="yes")


def test_stacked_forward_equals_each_model(test_data):
    models = [_seeded(lambda: digits_cnn(channels=4), s).eval() for s in range(3)]
    x = test_data[0][0]
    out = StackedForward(models)(x)
    for i, model in enumerate(models):
        torch.testing.assert_close(out[i], model(x), rtol=1e-5, atol=1e-5)


def test_groups_keep_different_structures_apart():
    a, b = digits_mlp(hidden=8), digits_mlp(hidden=8)
    c, d = digits_mlp(hidden=16), digits_cnn(channels=4)
    assert same_structure_groups([a, c, b, d, "not a model"]) == [[0, 2], [1], [3], [4]]
