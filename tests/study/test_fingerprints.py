"""Code fingerprints: the hash of a train_fn's code, and the warning when a Study reuses
checkpoints that older code trained (real tiny trainings through a real Hydra sweep)."""

from __future__ import annotations

import warnings

import pytest
import torch

from mushin_nb.stats import MushinWarning
from mushin_nb.study import Study, checkpoint_dir

QUIET = {"progress": False}


def test_a_changed_train_fn_warns_that_its_checkpoints_are_reused(tmp_path, counter,
                                                                  test_batches, saver,
                                                                  train_tiny):
    def first_code(seed):
        counter.log("v1", seed)
        path = checkpoint_dir() / f"m_{seed}.pt"
        torch.save(train_tiny("mlp", seed, 1), path)
        return path

    def second_code(seed):  # an edited cell: more steps
        counter.log("v2", seed)
        path = checkpoint_dir() / f"m_{seed}.pt"
        torch.save(train_tiny("mlp", seed, 2), path)
        return path

    other = saver("cnn", counter)
    kwargs = dict(data=test_batches, num_classes=10, metrics=["accuracy"],
                  working_dir=tmp_path / "wd", **QUIET)

    def stale_warnings(methods, seeds):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Study(methods, seeds=seeds, **kwargs).run()
        return [str(w.message) for w in caught if "changed since" in str(w.message)]

    assert stale_warnings({"m": first_code, "n": other}, [0, 1]) == []
    assert stale_warnings({"m": first_code, "n": other}, [0, 1]) == []  # same code: quiet
    messages = stale_warnings({"m": second_code, "n": other}, [0, 1, 2])
    study = Study({"m": second_code, "n": other}, seeds=[0, 1, 2], **kwargs)
    with pytest.warns(MushinWarning, match="changed since"):
        study.run()
    assert study.stale == {"m": [0, 1]}
    assert len(messages) == 1
    assert "'m' (seeds [0, 1])" in messages[0] and "'n'" not in messages[0]
    assert "Fix: to retrain, run the study with a new working_dir" in messages[0]
    # the old checkpoints were reused; only the new seed ran the new code
    assert [line for line in counter.lines() if line.startswith("v")] == [
        "v1 0", "v1 1", "v2 2"]


def test_the_code_hash_sees_settings_partials_wrappers_and_classes(test_batches):
    import functools

    import torch

    from mushin_nb.notebook.builder import module_trainer
    from mushin_nb.study import _fingerprint

    class Small(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(64, 10)

    class Wide(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(64, 10, bias=False)

    def trained(**kwargs):
        return _fingerprint(module_trainer(kwargs.pop("factory", Small), test_batches, **kwargs))

    assert trained(epochs=2) == trained(epochs=2)
    assert trained(epochs=2) != trained(epochs=3)  # a form setting changed
    assert trained(epochs=2) != trained(epochs=2, factory=Wide)  # the model's code changed
    assert trained(epochs=2, lr=0.1) != trained(epochs=2, lr=0.01)

    def train(seed, steps):
        return steps

    assert _fingerprint(functools.partial(train, steps=1)) != _fingerprint(
        functools.partial(train, steps=2))
    wrapper = functools.wraps(train)(lambda seed: train(seed, 1))
    assert _fingerprint(wrapper) == _fingerprint(train)  # __wrapped__ is followed
