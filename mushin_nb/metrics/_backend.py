"""Array operations that run on numpy arrays (CPU state) or torch tensors (other devices)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

# numpy's kernels beat torch's on CPU for these shapes (short class dim, 1-D sorts), so CPU
# state lives in numpy arrays and other devices keep torch tensors on the model's device.
_NUMPY_FLOATS = (torch.float16, torch.float32, torch.float64)


def _arrays(flat: torch.Tensor, labels: torch.Tensor) -> tuple[Any, Any]:
    if flat.device.type == "cpu" and flat.dtype in _NUMPY_FLOATS:
        return flat.numpy(), labels.numpy()
    return flat, labels


def _top(a: Any) -> tuple[Any, Any]:
    """Top-class probability and index (the first on ties, as argmax) of each row."""
    if isinstance(a, np.ndarray):
        pred = a.argmax(axis=1)
        return np.take_along_axis(a, pred[:, None], axis=1)[:, 0], pred
    return a.max(dim=1)


def _bincount(x: Any, size: int) -> Any:
    if isinstance(x, np.ndarray):
        return np.bincount(x, minlength=size)
    return torch.bincount(x, minlength=size)


def _isnan(a: Any) -> Any:
    return np.isnan(a) if isinstance(a, np.ndarray) else torch.isnan(a)


def _numpy(a: Any) -> np.ndarray:
    return a if isinstance(a, np.ndarray) else a.cpu().numpy()


def _cat(parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if isinstance(parts[0], np.ndarray) else torch.cat(parts)
