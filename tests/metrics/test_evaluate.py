"""evaluate() / evaluate_many(): one pass, one forward per model per batch, state restored."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from mushin_nb.errors import MushinKeyError, MushinTypeError, MushinValueError
from mushin_nb.metrics import evaluate, evaluate_many, task_metrics


class Probe(torch.nn.Module):
    """A classifier that records how it was called: mode, inference mode, batch sizes."""

    def __init__(self, seed: int = 0, classes: int = 3) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.body = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Dropout(0.5),
                                        torch.nn.Linear(8, classes))
        self.calls: list[tuple[bool, bool, int]] = []

    def forward(self, x):
        self.calls.append((self.training, torch.is_inference_mode_enabled(), len(x)))
        return self.body(x)


def _reference(model, batches, classes=3):
    with torch.no_grad():
        model.eval()
        probs = torch.cat([model(x).softmax(1) for x, _ in batches]).numpy()
    y = torch.cat([t for _, t in batches]).numpy()
    pred = probs.argmax(1)
    return {"accuracy": skm.accuracy_score(y, pred),
            "f1": skm.f1_score(y, pred, average="macro", zero_division=0),
            "auroc": skm.roc_auc_score(y, probs, multi_class="ovr")}


def test_evaluate_scores_a_real_model_like_sklearn(ring_test_data, trained):
    model = trained["mlp"][0]
    ours = evaluate(model, ring_test_data, num_classes=3)
    assert list(ours) == list(task_metrics("classification"))
    ref = _reference(model, ring_test_data)
    for name, value in ref.items():
        assert ours[name] == pytest.approx(value, abs=1e-6)
    assert ours["accuracy"] > 0.9  # the trained MLP separates the rings


def test_one_forward_per_batch_in_eval_and_inference_mode_then_restored(ring_test_data):
    model = Probe()
    model.train()
    model.body[2].eval()  # a mixed state must come back exactly
    evaluate(model, ring_test_data, num_classes=3)
    assert model.calls == [(False, True, 200)] * 4
    assert model.training and model.body[1].training and not model.body[2].training
    assert all(p.requires_grad for p in model.parameters())


def test_evaluate_many_reads_one_shot_data_once_and_feeds_every_model(ring_test_data):
    models = {"a": Probe(0), "b": Probe(1)}
    reads = []

    def stream():
        for batch in ring_test_data:
            reads.append(1)
            yield batch

    out = evaluate_many(models, stream(), num_classes=3, metrics=["accuracy", "auroc"])
    assert len(reads) == 4 and [len(m.calls) for m in models.values()] == [4, 4]
    for name, model in models.items():
        ref = _reference(model, ring_test_data)
        assert out[name]["accuracy"] == pytest.approx(ref["accuracy"])
        assert out[name]["auroc"] == pytest.approx(ref["auroc"], abs=1e-6)


def test_predict_fn_adapts_a_model_returning_a_dict(ring_test_data, trained):
    inner = trained["mlp"][1]

    class DictModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return {"logits": self.inner(x), "features": x}

    with pytest.raises(MushinTypeError, match=r"returned dict with keys \['features', "
                       r"'logits'\].*Fix: pass `predict_fn="):
        evaluate(DictModel(), ring_test_data, num_classes=3)
    out = evaluate(DictModel(), ring_test_data, num_classes=3, metrics=["accuracy"],
                   predict_fn=lambda m, x: m(x)["logits"].softmax(1))
    assert out["accuracy"] == pytest.approx(_reference(inner, ring_test_data)["accuracy"])


def test_segmentation_model_with_ignore_index():
    torch.manual_seed(0)
    model = torch.nn.Conv2d(1, 4, kernel_size=3, padding=1)
    x = torch.randn(6, 1, 8, 8)
    y = torch.randint(0, 4, (6, 8, 8))
    y[:, :2] = 255  # a void border
    batches = [(x[:3], y[:3]), (x[3:], y[3:])]
    out = evaluate(model, batches, num_classes=4, task="segmentation", ignore_index=255)
    with torch.no_grad():
        pred = model(x).argmax(1)
    keep = y != 255
    t, p = y[keep].numpy(), pred[keep].numpy()
    assert out["pixel_acc"] == pytest.approx(skm.accuracy_score(t, p))
    assert out["miou"] == pytest.approx(skm.jaccard_score(t, p, average="macro", zero_division=0))
    assert out["dice"] == pytest.approx(skm.f1_score(t, p, average="macro", zero_division=0))
    with pytest.raises(MushinValueError, match=r"target label 255 is outside \[0, num_classes=4\)"):
        evaluate(model, batches, num_classes=4, task="segmentation")


def test_device_argument_moves_the_model_there_and_back(ring_test_data):
    model = Probe()
    out = evaluate(model, ring_test_data, num_classes=3, device="cpu", metrics=["accuracy"])
    assert 0 <= out["accuracy"] <= 1
    assert next(model.parameters()).device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_state_stays_on_the_models_gpu(ring_test_data, trained):
    model = trained["mlp"][2]
    cpu = evaluate(model, ring_test_data, num_classes=3)
    gpu = evaluate(model, ring_test_data, num_classes=3, device="cuda")
    assert next(model.parameters()).device.type == "cpu"
    for name in cpu:
        assert gpu[name] == pytest.approx(cpu[name], abs=1e-5)


def test_plain_callables_are_models_too():
    x = torch.tensor([[3.0, 0.0], [0.0, 3.0], [2.0, 1.0]])
    y = torch.tensor([0, 1, 1])
    out = evaluate(lambda inputs: inputs, (x, y), num_classes=2, metrics=["accuracy"])
    assert out["accuracy"] == pytest.approx(2 / 3)


def test_bad_inputs_raise_clear_errors(ring_test_data):
    model = Probe()
    with pytest.raises(MushinValueError, match="`data` must be a non-empty iterable"):
        evaluate(model, [], num_classes=3)
    with pytest.raises(MushinTypeError, match="`data` must be an iterable of"):
        evaluate(model, 3, num_classes=3)
    x, y = ring_test_data[0]
    with pytest.raises(MushinTypeError, match="`data` must be batches of \\(inputs, targets\\), "
                       "not a Dataset.*DataLoader"):
        evaluate(model, torch.utils.data.TensorDataset(x, y), num_classes=3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64)
    assert evaluate(model, loader, num_classes=3) == pytest.approx(
        evaluate(model, [(x, y)], num_classes=3), abs=1e-12)
    with pytest.raises(MushinTypeError, match=r"`data` must be batches that are \(inputs, "
                       r"targets\) pairs"):
        evaluate(model, [torch.zeros(4, 2)], num_classes=3)
    with pytest.raises(MushinValueError, match=r"shape \(200, 3\) but `num_classes` is 5"):
        evaluate(model, ring_test_data, num_classes=5)
    with pytest.raises(MushinValueError, match=r"target label 2 is outside \[0, num_classes=2\)"):
        evaluate(torch.nn.Linear(2, 2), ring_test_data, num_classes=2)
    with pytest.raises(MushinKeyError, match="unknown task 'regression'"):
        evaluate(model, ring_test_data, num_classes=3, task="regression")
    with pytest.raises(MushinKeyError, match="unknown metric 'top5'"):
        evaluate(model, ring_test_data, num_classes=3, metrics=["top5"])
    with pytest.raises(MushinTypeError, match="`model` must be a torch.nn.Module or a callable"):
        evaluate("model.pt", ring_test_data, num_classes=3)
    with pytest.raises(MushinTypeError, match="`predict_fn` must be a function returning a "
                       "tensor"):
        evaluate(model, ring_test_data, num_classes=3, predict_fn=lambda m, x: [0.5])
    model.train()
    with pytest.raises(MushinValueError):
        evaluate(model, ring_test_data, num_classes=5)
    assert model.training  # restored even when the evaluation fails


def test_auroc_is_nan_when_targets_hold_a_single_class():
    x = torch.randn(10, 3)
    out = evaluate(lambda v: v, (x, torch.zeros(10, dtype=torch.long)), num_classes=3)
    assert np.isnan(out["auroc"]) and out["recall"] == pytest.approx(
        skm.recall_score(np.zeros(10), x.argmax(1).numpy(), average="macro", zero_division=0))


@pytest.mark.parametrize(("batch_size", "drop_last"), [(3, False), (3, True), (5, False)])
def test_an_ordered_loader_over_tensors_is_read_as_slices_with_the_same_batches(batch_size,
                                                                               drop_last):
    from torch.utils.data import DataLoader, TensorDataset

    from mushin_nb.metrics.evaluator import _batches

    data = TensorDataset(torch.randn(10, 3), torch.arange(10))
    loader = DataLoader(data, batch_size=batch_size, drop_last=drop_last)
    fast, reference = list(_batches(loader)), list(loader)
    assert fast is not loader and len(fast) == len(reference)
    for (x, y), (rx, ry) in zip(fast, reference):
        assert torch.equal(x, rx) and torch.equal(y, ry)
    shuffled = DataLoader(data, batch_size=3, shuffle=True)  # drawn orders stay the loader's
    assert _batches(shuffled) is shuffled
    collated = DataLoader(data, batch_size=3, collate_fn=lambda b: b)
    assert _batches(collated) is collated
