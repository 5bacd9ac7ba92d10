"""``launcher="ray"``: start (or join) Ray once per sweep and check it before any job.

hydra-ray-launcher calls ``ray.init`` itself unless Ray already runs, so the sweep
starts Ray first, with the launcher's ``hydra.launcher.ray.init`` settings: an address
that does not answer fails within :data:`CONNECT_TIMEOUT_S`, and a sweep asking more
GPUs per job than the cluster has fails before any job, naming both numbers.  Ray is
shut down after the sweep when the sweep started it.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator, Sequence
from typing import Any

from mushin_nb.errors import MushinRuntimeError, MushinValueError, bad_value

__all__ = ["CONNECT_TIMEOUT_S", "normalize_overrides", "ray_session"]

#: Seconds to wait for a Ray address to answer before the sweep fails.
CONNECT_TIMEOUT_S = 10.0
_SECTIONS = ("hydra.launcher.ray.init.", "hydra.launcher.ray.remote.")
_LOCAL_DEFAULTS = {"include_dashboard": False, "object_store_memory": 78643200}


def normalize_overrides(overrides: Sequence[str]) -> list[str]:
    """Let ``hydra.launcher.ray.init.<key>=...`` set keys the launcher's config lacks.

    Hydra wants ``++`` to add a key to ``ray.init`` / ``ray.remote`` (open dicts of
    ``ray.init()`` / ``ray.remote()`` arguments); users write them like any setting.

    Examples
    --------
    >>> normalize_overrides(["hydra.launcher.ray.init.num_gpus=2", "+x=1"])
    ['++hydra.launcher.ray.init.num_gpus=2', '+x=1']
    """
    return [f"++{o}" if o.startswith(_SECTIONS) else o for o in overrides]


def _address(init: dict[str, Any]) -> str | None:
    address = init.get("address") or os.environ.get("RAY_ADDRESS")
    return None if address in (None, "", "local") else str(address)


def _probe(address: str, timeout: float) -> None:
    """Fail fast when ``host:port`` does not accept a connection within ``timeout``."""
    if address == "auto":
        return  # Ray finds the local cluster itself and says so when there is none
    hostport = address.split("://", 1)[-1].rsplit("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise bad_value("hydra.launcher.ray.init.address", address, "'host:port' or "
                        "'ray://host:port' of a running Ray cluster",
                        "pass e.g. hydra.launcher.ray.init.address=10.0.0.5:6379")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise MushinRuntimeError(
            f"the Ray cluster at hydra.launcher.ray.init.address={address!r} did not "
            f"answer within {timeout:g} s ({exc}); nothing was run. Fix: start it "
            "(`ray start --head`) or check the address, or leave the address out for a "
            "local Ray") from exc


def _check_gpus(gpus_per_job: float | None, have: Any) -> None:
    """A job asking more GPUs than the cluster has would wait forever: fail now."""
    if gpus_per_job is None or have is None or gpus_per_job <= float(have):
        return
    raise MushinValueError(
        f"`gpus_per_job` asks {gpus_per_job:g} GPUs per job but the Ray cluster has "
        f"{float(have):g}. Fix: pass gpus_per_job <= {float(have):g}, or give Ray more GPUs "
        "(hydra.launcher.ray.init.num_gpus=N on one machine, or a bigger cluster)")


def _init(ray: Any, init: dict[str, Any], tries: int = 2) -> None:
    """``ray.init``, tried again once when a busy machine makes the local node start slowly."""
    for attempt in range(tries):
        try:
            ray.init(**init)
            return
        except Exception as exc:  # Ray raises a bare Exception for a slow start
            ray.shutdown()
            if "timed out during startup" not in str(exc) or attempt == tries - 1:
                raise


@contextlib.contextmanager
def ray_session(master: Any, gpus_per_job: float | None,
                timeout: float = CONNECT_TIMEOUT_S) -> Iterator[None]:
    """Start or join Ray for one sweep (settings from ``master``), check its GPUs."""
    import ray
    from omegaconf import OmegaConf

    init = dict(OmegaConf.to_container(master.hydra.launcher.ray.init, resolve=True) or {})
    address = _address(init)
    started = not ray.is_initialized()
    if started:
        if address is not None:
            _probe(address, timeout)
        else:
            _check_gpus(gpus_per_job, init.get("num_gpus"))
            init = {**_LOCAL_DEFAULTS, **init}
        _init(ray, {k: v for k, v in init.items() if v is not None or k != "address"})
    try:
        _check_gpus(gpus_per_job, ray.cluster_resources().get("GPU", 0))
        yield
    finally:
        if started:
            ray.shutdown()
