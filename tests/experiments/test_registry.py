"""Registries: decorators, discovery of a user folder, and unknown-name messages."""

import textwrap

import pytest
import torch

from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinImportError,
    MushinKeyError,
    MushinNotADirectoryError,
    MushinTypeError,
    MushinValueError,
)
from mushin_nb.experiments import (
    Dataset,
    Model,
    aggregators,
    datasets,
    discover,
    models,
    register_dataset,
    register_model,
)

pytestmark = pytest.mark.usefixtures("clean_registries")


def test_decorators_make_names_usable(cpu):
    @register_model("test-wide")
    def wide(width=3):
        return torch.nn.Linear(2, width)

    @register_dataset("test-ones")
    def ones(root=None, batch_size=2):
        return torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.ones(5, 2), torch.zeros(5)), batch_size=batch_size
        )

    assert Model("test-wide", cpu, width=4).get().numel() == 2 * 4 + 4
    assert [len(y) for _, y in Dataset("test-ones", batch_size=2).epoch()] == [2, 2, 1]
    assert "test-wide" in models and "test-ones" in datasets
    assert "test-wide" in models.known() and "resnet18" in models.known()


def test_taken_names_need_overwrite():
    register_model("test-a")(lambda: torch.nn.Linear(1, 1))
    with pytest.raises(
        MushinValueError,
        match=r"Model name 'test-a' is already registered .*"
        r"Fix: pick another name or pass overwrite=True",
    ):
        register_model("test-a")(lambda: torch.nn.Linear(1, 2))
    replacement = register_model("test-a", overwrite=True)(lambda: torch.nn.Linear(1, 2))
    assert models["test-a"] is replacement
    with pytest.raises(
        MushinTypeError, match=r"`name` must be a non-empty model name \(str\), got 3"
    ):
        register_model(3)
    with pytest.raises(MushinTypeError, match=r"`builder` must be a callable, got 'x'"):
        register_model("test-b")("x")


def test_discover_imports_a_user_folder_once(tmp_path, cpu):
    (tmp_path / "nets.py").write_text(
        textwrap.dedent("""
        import torch
        from mushin_nb.experiments import register_model

        CALLS = []

        @register_model("user-net")
        def net(classes=10):
            CALLS.append(classes)
            return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, classes))
    """)
    )
    (tmp_path / "data.py").write_text(
        textwrap.dedent("""
        import torch
        from mushin_nb.experiments import register_dataset

        @register_dataset("user-data")
        def data(root=None):
            return torch.zeros(3, 1, 8, 8), torch.zeros(3, dtype=torch.long)
    """)
    )
    (tmp_path / "_private.py").write_text("raise RuntimeError('never imported')\n")
    (tmp_path / "notes.txt").write_text("not python\n")
    names = discover(tmp_path)
    assert len(names) == 2 and all(name.startswith("mushin_nb_user.") for name in names)
    assert discover(str(tmp_path)) == names  # idempotent: no duplicate registration
    model = Model("user-net", cpu, classes=3)
    inputs, labels = Dataset("user-data").sample()
    assert model.run(inputs).shape == (3, 3)


def test_discover_errors(tmp_path):
    with pytest.raises(MushinFileNotFoundError, match=r"`folder` '.*nowhere' does not exist"):
        discover(tmp_path / "nowhere")
    file = tmp_path / "file.py"
    file.write_text("x = 1\n")
    with pytest.raises(MushinNotADirectoryError, match=r"`folder` '.*file.py' is a file"):
        discover(file)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(
        MushinImportError,
        match=r"Importing '.*bad.py' found by discover.*"
        r"ModuleNotFoundError",
    ):
        discover(broken)
    with pytest.raises(MushinTypeError, match=r"`folder` must be a path to a directory, got 3"):
        discover(3)


def test_aggregator_registry_accepts_underscores_and_lists_known_rules():
    assert aggregators["multi_krum"] is aggregators["multi-krum"] is aggregators.multi_krum
    assert sorted(aggregators) == ["average", "krum", "median", "multi-krum"]
    assert "krum" in aggregators and len(aggregators) == 4

    @aggregators.register("test_first")
    def first(gradients, f=0, **kwargs):
        return gradients[0]

    assert aggregators["test-first"]([torch.ones(2), torch.zeros(2)], f=1).tolist() == [1.0, 1.0]
    with pytest.raises(
        MushinKeyError,
        match=r"Unknown aggregator name 'bulyan'. Known aggregator "
        r"names: average, krum, median, multi-krum",
    ):
        aggregators["bulyan"]
    with pytest.raises(
        MushinTypeError, match=r"`name` must be a str \(the aggregator name\), got 3"
    ):
        aggregators[3]
