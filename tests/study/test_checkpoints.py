"""Where checkpoints go, and their loading, safe by default: pickled code never runs without an
explicit opt-in."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from mushin_nb.errors import MushinFileNotFoundError, MushinTypeError, MushinValueError
from mushin_nb.study import (
    Study,
    checkpoint_dir,
    load_checkpoint,
    load_module,
    state_dict_loader,
)


class Net(torch.nn.Module):
    """A user's own model class: not one of torch.nn's layers."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class Payload:
    """Unpickling this runs ``Path.touch(marker)``: a stand-in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def fixed_linear(scale: float) -> torch.nn.Linear:
    layer = torch.nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.arange(6.0).reshape(2, 3) * scale)
        layer.bias.copy_(torch.tensor([0.5, -0.5]))
    return layer


def test_a_file_that_runs_code_is_refused_by_default(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "evil.pt"
    torch.save({"model": Payload(marker)}, path)
    with pytest.raises(MushinValueError, match=r"refuses .*could run arbitrary code.*"
                                               r"load_module\(trusted=True\)"):
        load_checkpoint(path)
    assert not marker.exists()
    with pytest.raises(MushinValueError, match=r"refuses"):
        state_dict_loader(lambda: fixed_linear(1.0))(path)
    assert not marker.exists()
    with pytest.raises(MushinValueError, match=r"holds \{'model': None\} \(type: dict\), not "
                                               r"a torch.nn.Module"):
        load_module(trusted=True)(path)
    assert marker.exists()  # the opt-in really unpickles: the payload was live


def test_a_pickled_custom_module_needs_the_opt_in(tmp_path):
    path = tmp_path / "net.pt"
    model = Net()
    torch.save(model, path)
    with pytest.raises(MushinValueError, match=r"it names .*Net, not one of torch.nn's layers.*"
                                               r"state_dict_loader\(build_fn\).*"
                                               r"load_module\(trusted=True\)"):
        load_checkpoint(path)
    loaded = load_module(trusted=True)(path)
    assert isinstance(loaded, Net)
    x = torch.ones(4, 3)
    torch.testing.assert_close(loaded(x), model(x))


def test_a_model_made_of_torch_nn_layers_loads_safely(tmp_path):
    path = tmp_path / "seq.pt"
    model = torch.nn.Sequential(fixed_linear(1.0), torch.nn.ReLU(), torch.nn.Dropout(0.5),
                                torch.nn.BatchNorm1d(2)).eval()
    torch.save(model, path)
    loaded = load_checkpoint(path)
    assert isinstance(loaded, torch.nn.Sequential)
    x = torch.linspace(-1, 1, 12).reshape(4, 3)
    torch.testing.assert_close(loaded.eval()(x), model(x))


def test_classes_allow_listed_by_the_user_load(tmp_path):
    path = tmp_path / "net.pt"
    torch.save(Net(), path)
    with torch.serialization.safe_globals([Net]):
        assert isinstance(load_checkpoint(path), Net)


def test_a_state_dict_needs_its_model(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(fixed_linear(2.0).state_dict(), path)
    with pytest.raises(MushinValueError, match=r"holds a state dict \(keys \['weight', 'bias'\]"
                                               r".*state_dict_loader\(build_fn\)"):
        load_checkpoint(path)
    loaded = state_dict_loader(lambda: fixed_linear(0.0))(path)
    torch.testing.assert_close(loaded.weight, fixed_linear(2.0).weight)


@pytest.mark.parametrize("wrap", [None, "state_dict", "model_state_dict"])
def test_state_dict_loader_unwraps_common_layouts(tmp_path, wrap):
    state = fixed_linear(3.0).state_dict()
    torch.save(state if wrap is None else {wrap: state, "epoch": 7}, tmp_path / "w.pt")
    loaded = state_dict_loader(lambda: fixed_linear(0.0))(tmp_path / "w.pt")
    torch.testing.assert_close(loaded.bias, state["bias"])


def test_state_dict_loader_errors(tmp_path):
    with pytest.raises(MushinTypeError, match=r"`build_fn` must be a callable returning a "
                                              r"torch.nn.Module, got 3"):
        state_dict_loader(3)
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(MushinValueError, match=r"holds \[1, 2\] \(type: list\), not a state "
                                               r"dict"):
        state_dict_loader(lambda: fixed_linear(0.0))(tmp_path / "list.pt")
    torch.save(fixed_linear(1.0).state_dict(), tmp_path / "w.pt")
    with pytest.raises(MushinTypeError, match=r"`build_fn` must be a callable returning a "
                                              r"torch.nn.Module.*it returned 'oops'"):
        state_dict_loader(lambda: "oops")(tmp_path / "w.pt")


def test_other_loader_errors(tmp_path):
    with pytest.raises(MushinValueError, match=r"`trusted` must be True, got False.*source you "
                                               r"trust"):
        load_module()
    with pytest.raises(MushinFileNotFoundError, match=r"`path` must be an existing checkpoint "
                                                      r"file, got '.*missing.pt'"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(MushinValueError, match=r"holds \[1, 2\] \(type: list\), not a "
                                               r"torch.nn.Module"):
        load_checkpoint(tmp_path / "list.pt")


def test_loaders_pickle_for_process_launchers():
    for loader in (load_module(trusted=True), state_dict_loader(torch.nn.Identity)):
        again = pickle.loads(pickle.dumps(loader))
        assert repr(again) == repr(loader)


def test_a_study_with_the_default_loader_refuses_custom_pickles(tmp_path, test_batches):
    paths = []
    for seed in range(2):
        torch.save(Net(), tmp_path / f"net{seed}.pt")
        paths.append(tmp_path / f"net{seed}.pt")
    study = Study.from_checkpoints({"a": paths, "b": paths}, data=test_batches, num_classes=10,
                                   working_dir=tmp_path, progress=False)
    with pytest.raises(MushinValueError, match=r"load_module\(trusted=True\)"):
        study.run()


def test_checkpoint_dir_outside_a_study_is_checkpoints_in_the_cwd(in_tmp):
    assert checkpoint_dir() == in_tmp / "checkpoints"
    assert (in_tmp / "checkpoints").is_dir()
