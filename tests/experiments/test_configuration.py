"""Configuration: an immutable mapping that ``Tensor.to`` accepts."""

import pytest
import torch

from mushin_nb.errors import MushinTypeError, MushinValueError
from mushin_nb.experiments import Configuration


def test_mapping_feeds_tensor_to():
    config = Configuration(device="cpu", dtype=torch.float64, noblock=True, relink=True)
    assert dict(config) == {
        "device": torch.device("cpu"),
        "dtype": torch.float64,
        "non_blocking": True,
    }
    moved = torch.ones(3, dtype=torch.float32).to(**config)
    assert moved.dtype == torch.float64 and moved.device.type == "cpu"
    assert config.relink is True
    assert len(config) == 3 and set(config) == {"device", "dtype", "non_blocking"}


def test_defaults_follow_torch():
    config = Configuration()
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert config["device"].type == expected
    assert config["dtype"] == torch.get_default_dtype()
    assert config["non_blocking"] is False and config.relink is False


def test_immutable_and_hashable():
    config = Configuration("cpu")
    with pytest.raises(MushinValueError, match="Configuration is immutable: cannot set 'relink'"):
        config.relink = True
    with pytest.raises(TypeError):
        config["dtype"] = torch.float64  # Mapping has no __setitem__
    assert config == Configuration("cpu") and hash(config) == hash(Configuration("cpu"))
    assert config != Configuration("cpu", relink=True)
    assert "relink=False" in repr(config) and "'relink': False" in str(config)


@pytest.mark.skipif(torch.cuda.is_available(), reason="fallback only happens without CUDA")
def test_cuda_falls_back_to_cpu_with_a_warning():
    with pytest.warns(UserWarning, match="CUDA is unavailable; using the CPU"):
        config = Configuration("cuda")
    assert config["device"].type == "cpu"


def test_bad_arguments_say_the_fix():
    with pytest.raises(MushinValueError, match=r"`device` must be a torch device name.*'gpu7'"):
        Configuration("gpu7")
    with pytest.raises(MushinTypeError, match=r"`device` must be a str or torch.device, got 3"):
        Configuration(3)
    with pytest.raises(MushinTypeError, match=r"`dtype` must be a torch.dtype, got 'float32'"):
        Configuration("cpu", dtype="float32")
    with pytest.raises(MushinValueError, match=r"`dtype` must be a floating-point"):
        Configuration("cpu", dtype=torch.int64)
    with pytest.raises(MushinTypeError, match=r"`relink` must be a bool, got 'yes'"):
        Configuration("cpu", relink="yes")
