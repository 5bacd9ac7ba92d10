"""Job results to a labeled ``xarray.Dataset``, and NetCDF files that round-trip exactly.

Data contract (DESIGN 2): dimensions are the swept parameters in the order given, their
values the coordinates; one data variable per metric; an array metric adds dimensions
``<metric>_dim<k>``; fixed parameters go to ``Dataset.attrs``; a failed or missing job
is NaN.

``sel(method=...)`` on results
------------------------------
A Study or compare result has a ``method`` dimension, and the documented way to pick one is
``ds.sel(method="cnn")`` or ``ds["accuracy"].sel(method="mlp", seed=1)``.  xarray reads
``method=`` as its fill-method keyword (``"nearest"``, ``"pad"``...), so on its own the first
line silently returns everything and the second raises "Invalid fill method".

:func:`enable_method_sel` (run whenever mushin_nb builds, loads or compares a result)
wraps ``xarray.Dataset.sel`` once per process; ``DataArray.sel`` goes through it too.  A
rule on the ``method`` dimension, not an accessor, because the line users copy is ``sel``
itself; not a Dataset subclass, because xarray hands plain Datasets back from every
operation (``ds.mean("seed").sel(method="cnn")`` must work too).  It reads ``method=`` as
a label of the ``method`` dimension only when all of these hold:

- the object has a ``method`` dimension with a coordinate;
- the indexers are keywords (no positional mapping: ``ds.sel({"seed": 1.5},
  method="nearest")`` always means xarray's fill method);
- the value is not a fill-method name, or it is one of the labels and no other indexer is
  given (a method named ``"nearest"`` next to another indexer stays a fill method, with a
  ``UserWarning`` that shows the mapping spelling).

Everything else, including every object without a ``method`` dimension, goes to xarray
unchanged: ``ds.sel(x=1.4, method="nearest")`` on a numeric coordinate is still the nearest
label, and an invalid fill method is still rejected.  A label that is not a method raises a
:class:`~mushin_nb.errors.MushinKeyError` naming the methods, instead of selecting nothing.

>>> import xarray as xr
>>> ds = xr.Dataset({"accuracy": (("method", "seed"), [[0.9, 0.8], [0.7, 0.6]])},
...                 coords={"method": ["cnn", "mlp"], "seed": [0, 1]})
>>> enable_method_sel()
>>> float(ds["accuracy"].sel(method="mlp", seed=1))
0.6
>>> dict(ds.sel(method="cnn").sizes)
{'seed': 2}
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mushin_nb import _hooks
from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinImportError,
    MushinKeyError,
    MushinValueError,
    bad_value,
)

__all__ = ["build_dataset", "enable_method_sel", "load_results", "save_netcdf"]

#: Attribute listing the attrs that were JSON-encoded because netCDF cannot hold them.
JSON_ATTRS = "mushin_nb_json_attrs"

#: xarray's fill methods: the values ``sel(method=...)`` has always meant.
FILL_METHODS = ("nearest", "pad", "ffill", "backfill", "bfill")


# --------------------------------------------------------------------------- sel(method=)


def _method_label(obj: Any, indexers: Any, method: Any, others: Mapping[str, Any]) -> bool:
    """Whether ``obj.sel(indexers, method=method, **others)`` selects on the method dim."""
    if method is None or indexers is not None or "method" not in obj.dims \
            or "method" not in obj.indexes:
        return False
    if not isinstance(method, str) or method not in FILL_METHODS:
        return True  # xarray rejects it as a fill method: it can only mean a label
    if method not in obj.indexes["method"]:
        return False
    if others:
        import warnings

        warnings.warn(f"sel(method={method!r}, ...) is read as xarray's fill method although "
                      f"{method!r} is also a method label. Fix: to select the method write "
                      f"sel({{'method': {method!r}, ...}})", UserWarning, stacklevel=3)
        return False
    return True


def _selects(obj: Any, label: Any) -> None:
    """Raise MushinKeyError for a string label that is not a method of ``obj``."""
    if isinstance(label, str) and label not in obj.indexes["method"]:
        known = [str(v) for v in obj.indexes["method"]]
        raise bad_value("method", label, f"one of the methods {known}",
                        "pick one of them (on results, sel(method=...) selects a method)",
                        MushinKeyError)


def enable_method_sel() -> None:
    """Make ``sel(method=label)`` select on a ``method`` dimension (module docstring).

    Idempotent; changes ``xarray.Dataset.sel`` only for the calls the module docstring
    lists, and nothing else.
    """
    import functools

    import xarray as xr

    original = xr.Dataset.sel
    if getattr(original, "_mushin_method_sel", False):
        return

    @functools.wraps(original)
    def sel(self: Any, indexers: Any = None, method: Any = None, tolerance: Any = None,
            drop: bool = False, **indexers_kwargs: Any) -> Any:
        if _method_label(self, indexers, method, indexers_kwargs):
            _selects(self, method)
            indexers, indexers_kwargs = {"method": method, **indexers_kwargs}, {}
            method = None
        return original(self, indexers, method=method, tolerance=tolerance, drop=drop,
                        **indexers_kwargs)

    sel._mushin_method_sel = True  # type: ignore[attr-defined]
    xr.Dataset.sel = sel


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fill_value(dtype: np.dtype) -> tuple[np.dtype, Any]:
    """Dtype that can hold a hole, and the hole: NaN for numbers, '' for strings."""
    if dtype.kind in "biu":
        return np.dtype(np.float64), np.nan
    if dtype.kind in "fc":
        return dtype, np.nan
    if dtype.kind == "U":
        return dtype, ""
    return np.dtype(object), None


def _stack(name: str, values: Sequence[Any], shape: tuple[int, ...],
           labels: Sequence[str]) -> np.ndarray:
    """Stack one metric's per-job values into ``shape + metric_shape``, NaN where missing."""
    present = [(i, np.asarray(v)) for i, v in enumerate(values) if not _missing(v)]
    if not present:
        return np.full(shape, np.nan)
    first_index, first = present[0]
    for i, arr in present[1:]:
        if arr.shape != first.shape:
            raise MushinValueError(
                f"metric `{name}` has shape {first.shape} in job {labels[first_index]!r} but "
                f"{arr.shape} in job {labels[i]!r}; one variable needs one shape. Fix: return "
                "the same shape from every job (pad, or summarise to a scalar), or give "
                "differently shaped results different names")
    dtype = np.result_type(*[arr.dtype for _, arr in present]) if all(
        arr.dtype.kind in "biufc" for _, arr in present) else np.asarray(
        [arr for _, arr in present]).dtype
    fill = None
    if len(present) < len(values):
        dtype, fill = _fill_value(dtype)
    out = np.empty((len(values), *first.shape), dtype=dtype)
    if len(present) < len(values):
        out[...] = fill
    for i, arr in present:
        out[i] = arr
    return out.reshape(shape + first.shape)


def build_dataset(coords: Mapping[str, Sequence[Any]], cells: Mapping[str, Sequence[Any]],
                  attrs: Mapping[str, Any] | None = None, *,
                  labels: Sequence[str] | None = None,
                  coord_from_metrics: str | None = None) -> Any:
    """Build the sweep Dataset from per-job metric values laid out on the grid.

    Parameters
    ----------
    coords : Mapping[str, Sequence]
        Swept parameter -> its values, in sweep order (C order: the last varies fastest).
    cells : Mapping[str, Sequence]
        Metric -> one value per job in grid order (a scalar, a list or an array);
        ``None`` or NaN marks a failed or missing job.
    attrs : Mapping, optional
        Fixed parameters.
    labels : Sequence[str], optional
        One label per job, used in error messages.
    coord_from_metrics : str, optional
        A metric holding the coordinate of every metric's first extra dimension
        (e.g. ``"epoch"``); it becomes a coordinate instead of a variable.

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    MushinValueError
        A metric whose shape differs across jobs, or a ``coord_from_metrics`` that is
        not a metric.

    Examples
    --------
    >>> ds = build_dataset({"lr": [0.1, 0.01], "seed": [0, 1]},
    ...                    {"acc": [0.9, 0.8, None, 0.7]}, {"epochs": 3})
    >>> ds.acc.dims, ds.attrs
    (('lr', 'seed'), {'epochs': 3})
    >>> ds.acc.sel(lr=0.01).values.tolist()
    [nan, 0.7]
    """
    import xarray as xr

    _hooks.dataset_built()  # registers ds.mushin
    enable_method_sel()

    shape = tuple(len(v) for v in coords.values())
    n_jobs = math.prod(shape)
    labels = list(labels) if labels is not None else [f"#{i}" for i in range(n_jobs)]
    for name, values in cells.items():
        if len(values) != n_jobs:
            raise MushinValueError(f"metric `{name}` has {len(values)} values for a grid of "
                                   f"{n_jobs} jobs {dict(zip(coords, shape))}")
    clash = [name for name in cells if name in coords]
    if clash:
        raise MushinValueError(
            f"metric `{clash[0]}` has the name of a swept parameter (dimension); one name "
            "cannot be both. Fix: return it under another name, e.g. "
            f"'{clash[0]}_value'")
    out_coords: dict[str, Any] = {k: list(v) for k, v in coords.items()}
    metric_coord: dict[str, Any] = {}
    if coord_from_metrics:
        if coord_from_metrics not in cells:
            raise bad_value("coord_from_metrics", coord_from_metrics,
                            f"one of the metrics {sorted(cells)}",
                            "name a metric every job returns, e.g. 'epoch'", MushinValueError)
        values = [v for v in cells[coord_from_metrics] if not _missing(v)]
        first = np.asarray(values[0]) if values else np.asarray([])
        metric_coord[coord_from_metrics] = first if first.ndim <= 1 else first.reshape(
            first.shape[0], -1)[:, 0]
    data = {}
    for name, values in cells.items():
        if name == coord_from_metrics:
            continue
        datum = _stack(name, values, shape, labels)
        dims = list(coords)
        for n in range(datum.ndim - len(shape)):
            if metric_coord and n == 0:
                dims.append(coord_from_metrics)
                out_coords[coord_from_metrics] = metric_coord[coord_from_metrics]
            else:
                dims.append(f"{name}_dim{n}")
                out_coords[f"{name}_dim{n}"] = np.arange(datum.shape[len(shape) + n])
        data[name] = (dims, datum)
    out_coords.update(metric_coord)
    return xr.Dataset(data_vars=data, coords=out_coords, attrs=dict(attrs or {}))


# --------------------------------------------------------------------------- NetCDF


def _netcdf_native(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)) or value is None:
        return False
    if isinstance(value, str):
        return _storable(value)  # else JSON keeps it: NUL as \u0000, a surrogate as \ud800
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind in "iuf" and value.ndim == 1


def _encode_attrs(attrs: Mapping[str, Any], where: str) -> dict[str, Any]:
    out, encoded = {}, []
    for key, value in attrs.items():
        if _netcdf_native(value):
            out[key] = value
            continue
        try:
            out[key] = json.dumps(value.tolist() if isinstance(value, np.ndarray) else
                                  value.item() if isinstance(value, np.generic) else value)
        except TypeError as exc:
            raise bad_value(f"{where}.attrs[{key!r}]", value,
                            "a number, string, bool, None, list or dict",
                            "store a plain value (or its str) in attrs") from exc
        encoded.append(key)
    if encoded:
        out[JSON_ATTRS] = json.dumps(encoded)
    return out


def _storable(text: str) -> bool:
    """Whether netCDF stores ``text`` as is: UTF-8 encodable, with no NUL (HDF5 ends there)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from a mis-decoded file name
        return False
    return True


def _check_text(ds: Any) -> None:
    """Refuse text values netCDF cannot store, before anything is written."""
    for name, var in ds.variables.items():
        if var.dtype.kind not in "OU":
            continue
        for value in np.asarray(var.values).ravel():
            if isinstance(value, str) and not _storable(value):
                raise bad_value(f"ds[{name!r}]", value, "text netCDF can store: valid UTF-8 "
                                "without NUL characters ('\\x00')",
                                "remove or replace those characters, e.g. with "
                                "ds[name].str.replace('\\x00', '')", MushinValueError)


def _decode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    attrs = dict(attrs)
    names = json.loads(attrs.pop(JSON_ATTRS, "[]"))
    for name in names:
        attrs[name] = json.loads(attrs[name])
    return attrs


def save_netcdf(ds: Any, path: str | os.PathLike) -> Path:
    """Write ``ds`` to a netCDF-4 file (h5netcdf), atomically; attrs round-trip exactly.

    Attribute values netCDF cannot hold (bool, None, dict, nested lists) are stored as
    JSON and listed in the ``mushin_nb_json_attrs`` attribute, which
    :func:`load_results` reverses.  The file is written to a temporary name in the same
    directory and renamed, so an existing file is never left half-written.

    Parameters
    ----------
    ds : xarray.Dataset
        The Dataset to save.
    path : str or os.PathLike
        Target file; its directory must exist.

    Returns
    -------
    pathlib.Path
        The written file.

    Examples
    --------
    >>> import tempfile, xarray as xr
    >>> tmp = tempfile.TemporaryDirectory()
    >>> ds = xr.Dataset({"acc": ("seed", [0.5, 0.75])}, coords={"seed": [0, 1]},
    ...                 attrs={"augment": True, "opt": None})
    >>> path = save_netcdf(ds, tmp.name + "/results.nc")
    >>> load_results(path).identical(ds)
    True
    >>> tmp.cleanup()
    """
    import xarray as xr

    if not isinstance(ds, xr.Dataset):
        raise bad_value("ds", ds, "an xarray.Dataset", "pass e.g. workflow.to_xarray()",
                        MushinValueError)
    path = Path(path)
    if not path.parent.is_dir():
        raise bad_value("path", str(path), "a file in an existing directory",
                        f"create {path.parent} first", MushinFileNotFoundError)
    if importlib.util.find_spec("h5py") is None:
        raise MushinImportError("save_netcdf writes netCDF-4 through h5netcdf, which needs "
                                "h5py; it is not installed. Fix: pip install h5py")
    _check_text(ds)
    out = ds.copy()
    out.attrs = _encode_attrs(ds.attrs, "ds")
    for name, var in out.variables.items():
        var.attrs = _encode_attrs(var.attrs, f"ds[{name!r}]")
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        out.to_netcdf(tmp, engine="h5netcdf")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_results(path: str | os.PathLike) -> Any:
    """Load a sweep result: a netCDF file written by :func:`save_netcdf`, or a sweep dir.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.nc`` file, or a sweep's working directory (rebuilt from its job records
        with :func:`mushin_nb.workflows.load_from_dir`).

    Returns
    -------
    xarray.Dataset
        Fully loaded in memory (the file is closed).
    """
    import xarray as xr

    _hooks.dataset_built()  # registers ds.mushin
    enable_method_sel()

    path = Path(path)
    if path.is_dir():
        return _hooks.load_sweep_dir(path)  # workflows.load_from_dir, bound by mushin_nb
    if not path.is_file():
        raise bad_value("path", str(path), "an existing .nc file or sweep directory",
                        "check the path (workflow.working_dir, or where save_netcdf wrote)",
                        MushinFileNotFoundError)
    with xr.open_dataset(path, engine="h5netcdf") as opened:
        ds = opened.load()
    ds.attrs = _decode_attrs(ds.attrs)
    for var in ds.variables.values():
        var.attrs = _decode_attrs(var.attrs)
    return ds
