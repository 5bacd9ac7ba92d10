"""StudyBuilder's form without training: what it lists, what it refuses, the code it writes,
and the round trip through an existing Study."""

from __future__ import annotations

import ast
import doctest
import functools
import json
import math
import os
import re
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import mushin_nb.notebook._seeds
import mushin_nb.notebook.builder as builder_module
import mushin_nb.notebook.builder.trainer as trainer_module
from mushin_nb.errors import MushinKeyError, MushinTypeError, MushinValueError
from mushin_nb.experiments import digits_loaders
from mushin_nb.notebook._seeds import parse_seeds
from mushin_nb.notebook.builder import (
    ModuleTrainer,
    StudyBuilder,
    methods_loader,
    module_trainer,
)
from mushin_nb.notebook.builder.study_code import _ident
from mushin_nb.study import Study, checkpoint_dir, load_checkpoint, state_dict_loader

TRAIN_LOADER, TEST_LOADER = digits_loaders(batch_size=150, seed=0)


# ----------------------------------------------------------------- the namespace


def train_a(seed):
    path = checkpoint_dir() / f"a_{seed}.pt"
    torch.save(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), path)
    return path


def train_b(seed, epochs=2):
    return train_a(seed)


class Net(nn.Module):
    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(),
                                  nn.Linear(hidden, 10))

    def forward(self, x):
        return self.body(x)


class NeedsArgs(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()


def make_net() -> nn.Module:
    return Net(4)


def make_number() -> int:
    return 3


def load_weights(path):
    return state_dict_loader(Net)(path)


def two_args(seed, other):
    return seed


def keyword_only(*, seed):
    return seed


def _private(seed):
    return seed


def predict(model, inputs):
    return model(inputs).softmax(dim=1)


class ThreeClasses(torch.utils.data.Dataset):
    classes = ["cat", "dog", "emu"]

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return torch.zeros(64), i % 3


class PlainPairs(torch.utils.data.Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return torch.zeros(2), [0, 4, 1, 2, 1][i]


def namespace(**more):
    """A notebook-like namespace: what the form should list, and distractors it must not."""
    ns = {
        "__name__": __name__,
        "train_a": train_a, "train_b": train_b, "Net": Net, "make_net": make_net,
        "load_weights": load_weights, "safe_loader": state_dict_loader(Net),
        "train_loader": TRAIN_LOADER, "test_loader": TEST_LOADER,
        "lam": lambda seed: seed,
        # not methods: wrong arity, keyword-only, private, libraries, classes
        "two_args": two_args, "keyword_only": keyword_only, "_private": _private,
        "NeedsArgs": NeedsArgs, "make_number": make_number, "predict": predict,
        "parse_seeds": parse_seeds, "sqrt": math.sqrt, "dumps": json.dumps,
        "manual_seed": torch.manual_seed, "ReLU": nn.ReLU, "Path": Path, "os": os,
        "load_checkpoint": load_checkpoint, "tensor": torch.zeros(3), "number": 3,
    }
    ns.update(more)
    return ns


def values(dropdown):
    return [v[1] if isinstance(v, tuple) else v for v in dropdown.options]


def test_the_form_lists_methods_data_and_loaders_of_the_namespace():
    b = StudyBuilder(namespace())
    assert values(b.methods) == ["train_a", "train_b", "Net", "make_net", "lam"]
    labels = dict((v, k) for k, v in b.methods.options)
    assert labels["Net"] == "Net (nn.Module, default training)"
    assert values(b.data) == ["test_loader", "train_loader"]  # evaluation sets first
    assert b.data.value == "test_loader"
    assert values(b.train_data) == ["", "train_loader", "test_loader"]
    # the default, a function of `path` and a loader of mushin_nb.study (load_checkpoint
    # itself is the default, not listed twice)
    assert values(b.load_fn) == ["", "load_weights", "safe_loader"]
    assert b.num_classes.value == 10  # inferred from the digits labels
    assert b.errors == {"methods": "pick at least one method (Ctrl/Shift-click for several)"}
    assert b.run_button.disabled


def test_refresh_sees_new_names_and_drops_removed_ones():
    ns = namespace()
    b = StudyBuilder(ns)
    b.set(methods=["train_a", "lam"])
    ns["train_c"] = lambda seed: seed
    del ns["lam"]
    assert b.errors["methods"] == "'lam' is no longer a train_fn of the namespace: click Refresh"
    b.refresh_button.click()
    assert "train_c" in values(b.methods) and "lam" not in values(b.methods)
    assert b.methods.value == ("train_a",)


def test_a_valid_form_enables_run_and_the_reference_follows_the_methods():
    b = StudyBuilder(namespace())
    b.set(methods=["train_b", "train_a"], seeds="0-2")
    assert b.errors == {} and not b.run_button.disabled
    assert values(b.reference) == ["train_b", "train_a"] and b.reference.value == "train_b"
    b.set(reference="train_a")
    b.set(methods=["train_a"])
    assert b.reference.value == "train_a"
    assert b._train_box.layout.display == "none"
    b.set(methods=["train_a", "Net"])
    assert b._train_box.layout.display == ""  # the module needs train data, epochs, lr


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"methods": []}, "methods", "pick at least one method"),
    ({"seeds": "3"}, "seeds", "a test needs at least 2 seeds per method"),
    ({"seeds": "0,1,1"}, "seeds", r"must be unique seeds: remove the repeated seed\(s\) \[1\]"),
    ({"seeds": "0-2,x"}, "seeds", "'x' is none of these"),
    ({"alpha": 0.0}, "alpha", r"alpha must be in \(0, 1\), e.g. 0.05"),
    ({"alpha": 1.0}, "alpha", r"alpha must be in \(0, 1\)"),
    ({"alpha": -0.2}, "alpha", r"alpha must be in \(0, 1\)"),
    ({"num_classes": 5}, "num_classes", "the evaluation data has labels up to 9: set 10"),
    ({"num_classes": 0}, "num_classes", "a positive number of classes"),
    ({"methods": ["train_a", "Net"]}, "train_data", "the nn.Module methods need train data"),
    ({"methods": ["Net"], "train_data": "train_loader", "epochs": 0}, "epochs",
     "at least 1 epoch"),
    ({"methods": ["Net"], "train_data": "train_loader", "lr": -1.0}, "lr",
     "a positive learning rate"),
    ({"working_dir": "   "}, "working_dir", "a folder for the sweep and checkpoints"),
    ({"metrics": ["accuracy", "nope"]}, "task", "unknown metric 'nope' in `metrics`"),
])
def test_invalid_choices_are_shown_next_to_the_field_and_block_run(fields, field, message):
    b = StudyBuilder(namespace())
    b.set(methods=["train_a", "train_b"], seeds="0-2")
    b.set(**fields)
    assert list(b.errors) == [field]
    assert re.search(message, b.errors[field])
    note = b._messages[field].value
    assert "color:#c62828" in note and b.run_button.disabled
    with pytest.raises(MushinValueError, match=r"The StudyBuilder form has invalid fields: "):
        b.to_study()
    with pytest.raises(MushinValueError, match="invalid fields"):
        b.code()
    with pytest.raises(MushinValueError, match="invalid fields"):
        b.run()
    assert b.study is None and not b.running


def test_fixing_a_field_clears_its_note():
    b = StudyBuilder(namespace())
    b.set(methods=["train_a"], seeds="4", alpha=2.0)
    assert set(b.errors) == {"seeds", "alpha"}
    b.seeds.value = "4-6"  # typing into the widget, as a user would
    b.alpha.value = 0.01
    assert b.errors == {} and b._messages["seeds"].value == "" and not b.run_button.disabled


def test_a_working_dir_under_a_file_is_refused(tmp_path):
    (tmp_path / "taken").write_text("x")
    b = StudyBuilder(namespace())
    b.set(methods=["train_a"], seeds="0-1", working_dir=tmp_path / "taken" / "study")
    assert b.errors == {"working_dir": f"{str(tmp_path / 'taken')!r} is a file: pick another "
                                       "folder"}


def test_classes_come_from_the_data_exactly_or_as_a_lower_bound():
    exact = torch.utils.data.DataLoader(ThreeClasses(), batch_size=2)
    plain = torch.utils.data.DataLoader(PlainPairs(), batch_size=2)
    b = StudyBuilder(namespace(exact=exact, plain=plain))
    b.set(methods=["train_a"], seeds="0-1", data="exact")
    assert b.num_classes.value == 3  # len(dataset.classes)
    b.set(num_classes=4)
    assert b.errors == {"num_classes": "the evaluation data has 3 classes: set 3"}
    b.set(data="plain")
    assert b.num_classes.value == 5  # max label 4 + 1, read item by item
    b.set(num_classes=7)  # a class may be missing from these data: more is allowed
    assert b.errors == {}


def test_the_train_data_is_checked_against_the_classes_too():
    three = torch.utils.data.DataLoader(ThreeClasses(), batch_size=2)
    b = StudyBuilder(namespace(three=three))
    b.set(methods=["Net"], seeds="0-1", data="test_loader", train_data="three")
    assert b.errors == {"num_classes": "the train data has 3 classes: set 3"}


def test_set_explains_unknown_fields_and_values():
    b = StudyBuilder(namespace())
    with pytest.raises(MushinKeyError, match=r"unknown field 'seed'\. Known fields: methods, "):
        b.set(seed="0-2")
    with pytest.raises(MushinValueError, match=r"`data` must be one of \['test_loader', "
                       r"'train_loader'\], got 'val_loader'.*then call refresh\(\)"):
        b.set(data="val_loader")
    with pytest.raises(MushinValueError, match=r"`methods` must be the name of a train_fn or "
                       r"module of the namespace \(train_a, .*\), got 'two_args'"):
        b.set(methods=["train_a", "two_args"])
    with pytest.raises(MushinTypeError, match=r"`methods` must be a list of namespace names"):
        b.set(methods="train_a")
    with pytest.raises(MushinValueError, match=r"`test` must be one of \['welch'"):
        b.set(test="t-test")
    with pytest.raises(MushinTypeError, match=r"`num_classes` must be a value the Classes "
                       r"field takes, got 'ten'"):
        b.set(num_classes="ten")
    with pytest.raises(MushinTypeError, match=r"`metrics` must be a list of metric names"):
        b.set(metrics="accuracy")
    with pytest.raises(MushinValueError, match=r"`predict_fn` must be the name of a function "
                       r"in the namespace, got 'nope'"):
        b.set(predict_fn="nope")


def test_without_a_namespace_outside_ipython_the_fix_is_named():
    with pytest.raises(Exception, match=r"found no notebook namespace .*StudyBuilder\(globals"):
        StudyBuilder()
    with pytest.raises(MushinTypeError, match=r"`namespace` must be a dict of names"):
        StudyBuilder(["train_a"])


# ----------------------------------------------------------------- the code


def _run_code_without_training(code, ns):
    """Execute the generated code up to the Study (not its run) and return the Study."""
    body = code.split("result = study.run()")[0]
    scope = dict(ns)
    exec(compile(body, "<builder code>", "exec"), scope)
    return scope["study"]


def _settings(study):
    return (list(study.methods), study.seeds, study.num_classes, study.working_dir,
            study.launcher, study._compare_kwargs, study.data)


def test_the_code_builds_the_same_study_as_the_form(tmp_path):
    ns = namespace()
    b = StudyBuilder(ns)
    b.set(methods=["train_a", "Net", "make_net"], seeds="range(1, 7, 2)", test="mannwhitney",
          alpha=0.1, train_data="train_loader", epochs=2, lr=0.01, load_fn="load_weights",
          working_dir=str(tmp_path / "s"), launcher="joblib", metrics=["accuracy", "f1"],
          predict_fn="predict", ignore_index=3, reference="Net")
    code = b.code()
    assert "from mushin_nb.notebook.builder import methods_loader, module_trainer" in code
    assert "'Net': module_trainer(Net, train_loader, epochs=2, lr=0.01)," in code
    assert "load_fn=methods_loader(methods, default=load_weights)," in code
    assert "seeds=[1, 3, 5]," in code and "predict_fn=predict," in code
    built, written = b.to_study(), _run_code_without_training(code, ns)
    assert _settings(written) == _settings(built)
    assert written._compare_kwargs["predict_fn"] is predict
    assert written.methods["train_a"] is train_a
    for name, factory in (("Net", Net), ("make_net", make_net)):
        trainer = written.methods[name]
        assert isinstance(trainer, ModuleTrainer) and trainer.factory is factory
        assert (trainer.data, trainer.epochs, trainer.lr) == (TRAIN_LOADER, 2, 0.01)
    assert written.load_fn.default is load_weights
    assert sorted(written.load_fn.trainers) == ["module-Net", "module-make_net"]


def test_the_show_code_button_toggles_the_code():
    b = StudyBuilder(namespace())
    b.set(methods=["train_a", "train_b"], seeds="0-2")
    b.code_button.click()
    assert b.code_box.layout.display == "" and "train_a" in b.code_box.value
    b.set(alpha=0.2)  # the shown code follows the form
    assert "alpha=0.2," in b.code_box.value
    b.set(alpha=3.0)
    assert "invalid fields" in b.code_box.value
    b.code_button.click()
    assert b.code_box.layout.display == "none"


text_values = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@functools.lru_cache(maxsize=1)
def shared_builder():
    return StudyBuilder(namespace())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(label=text_values.filter(lambda s: s.strip()), folder=text_values)
def test_typed_text_reaches_the_code_only_as_literals(label, folder):
    """Method names and the working dir become string constants, whatever their text."""
    folder = folder.strip() or "x"
    b = shared_builder()
    b._labels = {"train_a": label}
    b.set(methods=["train_a", "train_b"], seeds="0-1", working_dir=folder, reference=label)
    if b.errors:  # e.g. a name that clashes with train_b's once made path-safe
        return
    tree = ast.parse(b.code())
    methods = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                   and node.targets[0].id == "methods")
    assert [ast.literal_eval(key) for key in methods.keys] == [label, "train_b"]
    assert [value.id for value in methods.values] == ["train_a", "train_b"]
    call = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                and node.targets[0].id == "study")
    keywords = {kw.arg: kw.value for kw in call.keywords}
    assert ast.literal_eval(keywords["working_dir"]) == folder
    assert ast.literal_eval(keywords["reference"]) == label
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert names <= {"Study", "methods", "study", "result", "train_a", "train_b",
                     "test_loader"}


def test_a_name_that_is_no_identifier_is_never_listed_nor_written():
    ns = namespace(**{"not valid": train_a, "class": train_a})
    b = StudyBuilder(ns)
    assert "not valid" not in values(b.methods) and "class" not in values(b.methods)
    with pytest.raises(MushinValueError, match=r"`name` must be a Python identifier"):
        _ident("os.system('x')")


# ----------------------------------------------------------------- round trip


def test_from_study_fills_the_form_and_gives_back_the_same_study(tmp_path):
    ns = namespace()
    study = Study({"first": train_a, "second": train_b}, load_weights, seeds=[3, 4, 5, 9],
                  data=TEST_LOADER, num_classes=10, test="paired-t", alpha=0.01,
                  reference="second", working_dir=tmp_path / "orig", launcher="joblib",
                  metrics=["accuracy"], ignore_index=2, progress=False)
    b = StudyBuilder.from_study(study, ns)
    assert b.methods.value == ("train_a", "train_b")
    assert (b.seeds.value, b.data.value, b.load_fn.value, b.test.value, b.alpha.value) == (
        "3-5,9", "test_loader", "load_weights", "paired-t", 0.01)
    assert (b.reference.value, b.working_dir.value, b.launcher.value) == (
        "second", str(tmp_path / "orig"), "joblib")
    again = b.to_study()
    assert _settings(again) == _settings(study)
    assert again.methods == study.methods and again.load_fn is study.load_fn
    assert _settings(_run_code_without_training(b.code(), ns)) == _settings(study)
    # and the builder of the rebuilt study is the same form
    assert StudyBuilder.from_study(again, ns).code() == b.code()


def test_from_study_brings_module_trainers_back_to_their_factory(tmp_path):
    ns = namespace()
    trainer = module_trainer(Net, TRAIN_LOADER, epochs=4, lr=0.02)
    methods = {"Net": trainer, "train_a": train_a}
    study = Study(methods, methods_loader(methods), seeds=[0, 1], data=TEST_LOADER,
                  num_classes=10, working_dir=tmp_path, progress=False)
    b = StudyBuilder.from_study(study, ns)
    assert b.methods.value == ("Net", "train_a")
    assert (b.train_data.value, b.epochs.value, b.lr.value, b.load_fn.value) == (
        "train_loader", 4, 0.02, "")
    rebuilt = b.to_study()
    assert list(rebuilt.methods) == ["Net", "train_a"]
    assert (rebuilt.methods["Net"].factory, rebuilt.methods["Net"].epochs) == (Net, 4)


def test_from_study_names_what_the_namespace_lacks(tmp_path):
    study = Study({"a": lambda seed: seed, "b": train_b}, seeds=[0, 1], data=TEST_LOADER,
                  num_classes=10, working_dir=tmp_path, progress=False)
    with pytest.raises(MushinValueError, match=r"`study.methods\['a'\]` must be an object of "
                       r"the namespace .*Fix: assign it to a variable, e.g. a = \.\.\."):
        StudyBuilder.from_study(study, namespace())
    other_data = Study({"a": train_a, "b": train_b}, seeds=[0, 1],
                       data=[(torch.zeros(2, 64), torch.zeros(2).long())], num_classes=10,
                       working_dir=tmp_path, progress=False)
    with pytest.raises(MushinValueError, match=r"`study.data` must be an object of the "
                       r"namespace"):
        StudyBuilder.from_study(other_data, namespace())
    with pytest.raises(MushinTypeError, match=r"`study` must be a mushin_nb.Study"):
        StudyBuilder.from_study("study", namespace())


# ----------------------------------------------------------------- default training


def test_module_trainer_is_seeded_adam_on_cross_entropy(in_tmp):
    """The documented loop, written out with torch: same seed, same weights, bit for bit."""
    x, y = TRAIN_LOADER.dataset.tensors
    batches = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[:300], y[:300]),
                                          batch_size=100, shuffle=True,
                                          generator=torch.Generator().manual_seed(99))
    rng_before = torch.get_rng_state()
    loader_before = batches.generator.get_state()
    trainer = module_trainer(Net, batches, epochs=2, lr=0.01)
    path = trainer(seed=5)
    assert path == in_tmp / "checkpoints" / "module-Net" / "seed5.pt"
    assert torch.equal(torch.get_rng_state(), rng_before)  # the global RNG is untouched
    assert torch.equal(batches.generator.get_state(), loader_before)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        model = Net()
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        order = torch.utils.data.DataLoader(batches.dataset, batch_size=100, shuffle=True,
                                            generator=torch.Generator().manual_seed(5))
        for _ in range(2):
            for inputs, targets in order:
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(inputs), targets).backward()
                optimizer.step()
    saved = torch.load(path, weights_only=True)
    assert saved.keys() == model.state_dict().keys()
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(a, b) for a, b in zip(trainer.load(path).state_dict().values(),
                                                 model.state_dict().values()))
    other = torch.load(trainer(seed=6), weights_only=True)
    assert not torch.equal(other["body.1.weight"], saved["body.1.weight"])


def test_methods_loader_sends_each_checkpoint_to_its_loader(in_tmp):
    trainer = module_trainer(make_net, [(torch.zeros(4, 1, 8, 8), torch.arange(4))], epochs=1)
    methods = {"net": trainer, "plain": train_a}
    loader = methods_loader(methods)
    net = loader(trainer(seed=0))
    plain = loader(train_a(0))
    assert isinstance(net, Net) and net.body[1].out_features == 4
    assert isinstance(plain, nn.Sequential)
    picky = methods_loader(methods, default=lambda path: "custom")
    assert picky(train_a(1)) == "custom"


@pytest.mark.parametrize(("kwargs", "cls", "match"), [
    ({"factory": 3}, MushinTypeError, r"`factory` must be a callable returning a torch.nn"),
    ({"data": iter([])}, MushinValueError, r"`data` must be re-iterable"),
    ({"data": None}, MushinTypeError, r"`data` must be a re-iterable of \(inputs, targets\)"),
    ({"epochs": 0}, MushinValueError, r"`epochs` must be a positive int, got 0"),
    ({"epochs": 1.5}, MushinTypeError, r"`epochs` must be a positive int"),
    ({"lr": -0.1}, MushinValueError, r"`lr` must be a positive, finite float"),
    ({"lr": "fast"}, MushinTypeError, r"`lr` must be a positive float"),
    ({"name": ""}, MushinTypeError, r"`name` must be a non-empty str"),
    ({"device": 0}, MushinTypeError, r"`device` must be a device name"),
])
def test_module_trainer_explains_bad_arguments(kwargs, cls, match):
    arguments = {"factory": Net, "data": [], **kwargs}
    factory, data = arguments.pop("factory"), arguments.pop("data")
    with pytest.raises(cls, match=match):
        module_trainer(factory, data, **arguments)


def test_a_factory_that_builds_no_module_is_named(in_tmp):
    trainer = module_trainer(make_number, [], epochs=1)
    with pytest.raises(MushinTypeError, match=r"`factory` must be a callable returning a "
                       r"torch.nn.Module, got <function make_number.*it returned 3"):
        trainer(seed=0)


def test_methods_loader_explains_bad_arguments():
    one = module_trainer(Net, [], name="same")
    two = module_trainer(make_net, [], name="same")
    with pytest.raises(MushinValueError, match=r"`methods\['b'\]` must be a module trainer "
                       r"with a name of its own .*Fix: pass name=\.\.\. to module_trainer"):
        methods_loader({"a": one, "b": two})
    with pytest.raises(MushinTypeError, match=r"`methods` must be a dict of name -> train_fn"):
        methods_loader([one])
    with pytest.raises(MushinTypeError, match=r"`default` must be a callable load_fn"):
        methods_loader({"a": one}, default="load")


@pytest.mark.parametrize("module", [builder_module, trainer_module,
                                    mushin_nb.notebook._seeds])
def test_the_docstring_examples_run(module, in_tmp):
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0


class BreakingNamespace(dict):
    """A namespace whose listing fails once ``broken`` is set (a bug, not a user mistake)."""

    broken = False

    def items(self):
        if self.broken:
            raise RuntimeError("namespace <gone>")
        return super().items()


def test_an_unexpected_error_in_a_button_is_shown_and_reported():
    ns = BreakingNamespace(namespace())
    b = StudyBuilder(ns)
    ns.broken = True
    with pytest.warns(RuntimeWarning, match=r"error in the StudyBuilder's Refresh: "
                      r"RuntimeError: namespace <gone>"):
        b.refresh_button.click()
    assert "Refresh: RuntimeError: namespace &lt;gone&gt;" in b.error_box.value
