"""The in-process launcher writes what Hydra writes and composes what Hydra composes."""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hydra.core.config_store import ConfigStore
from hydra_zen import launch, make_config, zen

from mushin_nb.errors import MushinValueError
from mushin_nb.workflows import MultiRunMetricsWorkflow, multirun


def task(name, x, y):
    return {"s": x * 2 + len(name)}


class Flow(MultiRunMetricsWorkflow):
    @staticmethod
    def task(name, x, y):
        return {"s": x * 2 + len(name)}


def _files(job_dir: Path) -> dict[str, str]:
    return {f: (job_dir / ".hydra" / f).read_text() for f in
            ("config.yaml", "hydra.yaml", "overrides.yaml")}


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_job_files_match_hydras_basic_launcher(in_tmp):
    params = ["+name=a b", "+x=1,2", "+y=[1,2],[3]"]
    launch(make_config(), zen(task), overrides=[*params, f"hydra.sweep.dir={in_tmp}/hydra"],
           multirun=True, version_base="1.1", config_name="rai_workflow",
           job_name="rai_workflow", with_log_configuration=False)
    wf = Flow()
    wf.run(name="a b", x=multirun([1, 2]), y="[1,2],[3]", progress=False,
           overrides=[f"hydra.sweep.dir={in_tmp}/ours"])
    assert sorted(p.name for p in (in_tmp / "ours").iterdir() if p.name != "multirun.yaml") \
        == sorted(p.name for p in (in_tmp / "hydra").iterdir() if p.name != "multirun.yaml")
    for num in range(4):
        theirs = _files(in_tmp / "hydra" / str(num))
        ours = _files(in_tmp / "ours" / str(num))
        ours["hydra.yaml"] = ours["hydra.yaml"].replace(f"{in_tmp}/ours", f"{in_tmp}/hydra")
        assert ours == theirs, num
    theirs = yaml.safe_load((in_tmp / "hydra" / "multirun.yaml").read_text())
    ours = yaml.safe_load((in_tmp / "ours" / "multirun.yaml").read_text().replace(
        f"{in_tmp}/ours", f"{in_tmp}/hydra"))
    assert ours == theirs
    assert wf.to_xarray().s.values.tolist() == [[5, 5], [7, 7]]


def test_sweeping_a_config_group_falls_back_to_full_composition(in_tmp):
    ConfigStore.instance().store(group="model", name="small", node=make_config(width=2))
    ConfigStore.instance().store(group="model", name="big", node=make_config(width=20))

    class Net(MultiRunMetricsWorkflow):
        @staticmethod
        def task(model, seed):
            return {"params": model.width * 10 + seed}

    cfg = make_config(hydra_defaults=["_self_", {"model": "small"}], model=None, seed=0)
    wf = Net(cfg)
    wf.run(seed=multirun([0, 1]), overrides=["model=small,big"], progress=False)
    ds = wf.to_xarray()
    assert list(ds.params.dims) == ["model", "seed"]
    assert ds.model.values.tolist() == ["small", "big"]
    assert ds.params.values.tolist() == [[20, 21], [200, 201]]
    choices = yaml.safe_load((wf.multirun_working_dirs[3] / ".hydra" / "hydra.yaml")
                             .read_text())["hydra"]["runtime"]["choices"]
    assert choices["model"] == "big"


def test_interpolations_hydra_resolver_and_env_set(in_tmp):
    class Interp(MultiRunMetricsWorkflow):
        @staticmethod
        def task(a, b, tag):
            return {"b": b, "env": float(os.environ["MUSHIN_TEST_VAR"]), "tag": tag}

    cfg = make_config(a=1, b="${a}", tag="${hydra:job.num}")
    wf = Interp(cfg)
    wf.run(a=multirun([3, 4, 5]), overrides=["+hydra.job.env_set.MUSHIN_TEST_VAR=2.5"],
           progress=False)
    ds = wf.to_xarray()
    assert ds.b.values.tolist() == [3, 4, 5]
    assert ds.tag.values.tolist() == [0, 1, 2]
    assert ds.env.values.tolist() == [2.5] * 3
    assert "MUSHIN_TEST_VAR" not in os.environ


@dataclass
class TypedCfg:
    lr: float = 0.1
    n: int = 1


def test_structured_configs_keep_their_types(in_tmp):
    class Typed(MultiRunMetricsWorkflow):
        @staticmethod
        def task(lr, n):
            return {"lr_type": type(lr).__name__, "lr": lr, "n": n}

    wf = Typed(TypedCfg)
    wf.run(lr=multirun([1, 2]), n=3, progress=False)
    assert wf.metrics["lr_type"] == ["float", "float"]  # OmegaConf validated each job
    with pytest.raises(MushinValueError, match=r"do not compose.*Fix"):
        Typed(TypedCfg).run(n=multirun(["many"]), progress=False)
    with pytest.raises(MushinValueError, match=r"the job with overrides \['n=many'\] does not "
                                               r"compose.*Fix: pass values of the type"):
        Typed(TypedCfg).run(n=multirun([1, "many"]), working_dir="typed", progress=False)
    assert not (in_tmp / "typed").exists()  # refused before any job ran
    # a launcher plugin's sweep checks every job up front too, not only the first
    with pytest.raises(MushinValueError, match=r"the job with overrides \['n=many'\] does not "
                                               r"compose"):
        Typed(TypedCfg).run(n=multirun([1, "many"]), working_dir="typed", launcher="basic",
                            progress=False)
    assert not (in_tmp / "typed").exists()
