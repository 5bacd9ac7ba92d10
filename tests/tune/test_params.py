"""Candidate parameters: Params, grids (checked against scikit-learn's ParameterGrid),
lists of dicts and seeded random draws."""

from __future__ import annotations

import functools
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.model_selection import ParameterGrid

from mushin_nb import rand
from mushin_nb.errors import MushinTypeError
from mushin_nb.tune import Params, tune
from mushin_nb.tune._params import expand_params, jsonable
from mushin_nb.workflows import multirun
from tests.tune.conftest import Quadratic, Scripted, read_log


def test_params_is_a_read_only_mapping_with_attributes():
    p = Params({"lr": 0.1, "layers": [8, 8]})
    assert p.lr == p["lr"] == 0.1 and p == {"lr": 0.1, "layers": [8, 8]}
    assert dict(p) == {"lr": 0.1, "layers": [8, 8]} and len(p) == 2 and "lr" in p
    with pytest.raises(MushinTypeError, match=r"Params are read-only, cannot set 'lr'\. Fix:"):
        p.lr = 1
    with pytest.raises(TypeError):
        p["lr"] = 1
    with pytest.raises(AttributeError, match=r"Params has no parameter 'momentum'; it has "
                                             r"\['layers', 'lr'\]"):
        _ = p.momentum
    assert pickle.loads(pickle.dumps(p)) == p
    assert repr(p) == "Params(lr=0.1, layers=[8, 8])"


@given(st.dictionaries(st.sampled_from("abcd"),
                       st.lists(st.integers(0, 9), min_size=1, max_size=3, unique=True),
                       min_size=1))
def test_grid_is_the_product_of_multirun_values_like_sklearn(grid):
    ours = expand_params({k: multirun(v) for k, v in grid.items()})
    reference = list(ParameterGrid(grid))
    assert sorted(map(sorted, (d.items() for d in ours))) == sorted(
        map(sorted, (d.items() for d in reference)))
    assert all(list(d) == list(grid) for d in ours)  # keys keep the caller's order


def test_grid_order_last_key_fastest_and_fixed_values_shared():
    class hydra_list(list):  # noqa: N801 - a list that is one value, as in rai-toolbox
        pass

    got = expand_params({"a": multirun([1, 2]), "b": multirun(["x", "y"]), "sizes": [4, 4],
                         "h": hydra_list([1, 2])})
    assert got == [{"a": 1, "b": "x", "sizes": [4, 4], "h": [1, 2]},
                   {"a": 1, "b": "y", "sizes": [4, 4], "h": [1, 2]},
                   {"a": 2, "b": "x", "sizes": [4, 4], "h": [1, 2]},
                   {"a": 2, "b": "y", "sizes": [4, 4], "h": [1, 2]}]
    assert type(got[0]["h"]) is list


def test_multirun_and_hydra_list_of_the_workflows_engine(wd):
    from mushin_nb.workflows import hydra_list

    params = {"lr": multirun([0.1, 0.01]), "sizes": hydra_list([4, 4]), "w": 3}
    assert expand_params(params) == [{"lr": 0.1, "sizes": [4, 4], "w": 3},
                                     {"lr": 0.01, "sizes": [4, 4], "w": 3}]
    results = tune(Quadratic(), {"x": multirun([2, 3])}, working_dir=wd, progress=False)
    assert [c.params.x for c in results] == [3, 2]


def test_list_of_dicts_is_taken_as_is():
    items = [{"a": 1}, {"a": 2, "b": 3}]
    assert expand_params(items) == items and expand_params(items)[0] is not items[0]


def test_random_space_draws_match_rand_sample_and_drop_repeats():
    space = {"q": rand.oneof([0.1, 0.2, 0.3]), "k": 1}
    drawn = expand_params(space, n=30, seed=4)
    assert sorted(d["q"] for d in drawn) == [0.1, 0.2, 0.3]
    reference = rand.sample(space, 30, seed=4)
    assert drawn == [d for i, d in enumerate(reference) if d not in reference[:i]]


def test_tune_over_a_random_space_trains_the_seeded_draws(wd, log):
    space = {"q": rand.uniform(0.1, 1.0), "tag": "r"}
    results = tune(Scripted(log), space, n=6, seed=11, rounds=[1, 2], working_dir=wd,
                   progress=False)
    expected = rand.sample(space, 6, seed=11)
    by_index = {c.index: dict(c.params) for c in results}
    assert [by_index[i] for i in range(6)] == expected
    assert sorted(c[1] for c in read_log(log) if c[0] == "create") == sorted(
        d["q"] for d in expected)


def _factory(width):
    return {"width": width}


def test_callable_params_resume_without_a_false_mismatch(wd):
    class Built(Scripted):
        def create_model(self, params):
            super().create_model(params)
            self.model["built"] = params.create_model()

    def params():  # fresh callables on each call, as a notebook re-run would make
        return [{"q": 0.5, "create_model": functools.partial(_factory, 4)},
                {"q": 0.7, "create_model": lambda: _factory(8)}]

    first = tune(Built(), params(), rounds=[1, 2], working_dir=wd, progress=False)
    second = tune(Built(), params(), rounds=[1, 2], working_dir=wd, progress=False)
    assert [c.metric_values for c in first] == [c.metric_values for c in second]
    assert jsonable(params()[1]["create_model"]).endswith("<lambda>")
    assert "0x" not in str(jsonable(params()))


def test_simple_trainer_candidates_and_seeds_read_params(wd, log):
    results = tune(Quadratic(log), {"x": multirun([1, 3, 5])}, working_dir=wd, progress=False,
                   dataset="d")
    assert [c.params.x for c in results] == [3, 1, 5]  # ties (1 and 5) by index
    assert [c for c in read_log(log) if c[0] == "load_dataset"] == [["load_dataset", "d"]]


def test_any_list_type_named_multirun_is_swept():
    class multirun(list):  # noqa: N801 - as rai-toolbox spells it
        pass

    assert expand_params({"a": multirun([1, 2])}) == [{"a": 1}, {"a": 2}]
    assert expand_params({"a": [1, 2]}) == [{"a": [1, 2]}]  # a plain list is one value
