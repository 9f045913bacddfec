"""Checks and chunked application shared by the engineered feature extractors
(:mod:`.features`: HOG and HGD; :mod:`.hcfeats`: HCFeats)."""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np

LUMA_601 = (0.299, 0.587, 0.114)


def check_images(images) -> np.ndarray:
    """The images as an array (a memmap stays a memmap: nothing is read here)."""
    arr = np.asanyarray(images)
    if arr.ndim != 4 or arr.dtype != np.uint8 or arr.shape[1] not in (1, 3):
        raise ValueError(
            "images must be a uint8 array shaped (N, C, H, W) with C 1 (gray) or 3 (RGB); "
            f"got dtype {arr.dtype} and shape {arr.shape}"
        )
    return arr


def check_int(value, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        upper = "" if high is None else f" and <= {high}"
        raise ValueError(f"{name} must be >= {low}{upper}, got {value}")
    return int(value)


def check_pair(value, name: str) -> tuple[int, int]:
    """An int ``n`` (meaning ``(n, n)``) or a pair of ints >= 1, as a tuple."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        value = (value, value)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints (rows, cols), got {value!r}")
    return check_int(value[0], name, 1), check_int(value[1], name, 1)


def gray_chunk(chunk: np.ndarray) -> np.ndarray:
    """uint8 ``(n, C, H, W)`` -> uint8 ``(n, H, W)`` (ITU-R 601 luma, rounded, for RGB)."""
    if chunk.shape[1] == 1:
        return np.ascontiguousarray(chunk[:, 0])
    rgb = chunk.astype(np.float64)
    luma = LUMA_601[0] * rgb[:, 0] + LUMA_601[1] * rgb[:, 1] + LUMA_601[2] * rgb[:, 2]
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)


def apply_chunked(arr: np.ndarray, chunk_size, per_chunk: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Run ``per_chunk`` (gray uint8 ``(n, H, W)`` -> ``(n, D)``) over ``arr`` chunk by chunk."""
    chunk_size = check_int(chunk_size, "chunk_size", 1)
    n = arr.shape[0]
    if n == 0:  # D still depends on the image size: take it from one blank image
        return per_chunk(np.zeros((1, *arr.shape[2:]), np.uint8))[:0].astype(np.float32)
    out = None
    for start in range(0, n, chunk_size):
        feats = per_chunk(gray_chunk(np.asarray(arr[start : start + chunk_size])))
        if out is None:
            out = np.empty((n, feats.shape[1]), np.float32)
        out[start : start + len(feats)] = feats
    return out


def check_range(value_range) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be None or (low, high), got {value_range!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"value_range must be finite with low < high, got {value_range!r}")
    return low, high


def check_sequence(values, name: str, integer: bool) -> list:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty sequence, got {values!r}")
    if integer:
        return [check_int(v, name, 1) for v in values]
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers, got {values!r}") from None
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} must be finite, got {values!r}")
    return out
