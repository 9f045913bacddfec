"""Helpers shared by the imaging transforms.

Input and parameter validation, the non-overlapping windows of PAA/MTF
(:func:`_segments`), numpy's 'linear' quantile arithmetic (MTF quantile bin
edges, RP 'point' thresholds) and output dtypes/buffers.
"""

from __future__ import annotations

import importlib
import numbers
import os
import sys
from collections.abc import Sequence

import numpy as np
import torch

_NUMPY_DTYPES = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}


# --------------------------------------------------------------------------- #
# Input and parameter validation
# --------------------------------------------------------------------------- #
def _as_2d(X, name: str = "X") -> torch.Tensor:
    """Return ``X`` as a 2D floating tensor (no copy when possible); raise ValueError otherwise.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n_samples, n_timestamps)

    Returns
    -------
    torch.Tensor, shape (n_samples, n_timestamps)
        ``X``'s dtype and device when it is a floating tensor; integer input
        is converted to float64. Finiteness is checked later, on what each
        transform actually reads (see :func:`_check_finite`).
    """
    try:
        X = torch.as_tensor(X)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{name} must be a numeric array or tensor ({exc})") from exc
    if X.requires_grad:
        X = X.detach()  # the transforms are not differentiable
    if X.is_complex() or X.dtype == torch.bool:
        raise ValueError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2D with shape (n_samples, n_timestamps), got shape {tuple(X.shape)}")
    if X.shape[1] < 1:
        raise ValueError(f"{name} must have at least one timestamp, got shape {tuple(X.shape)}")
    return X if X.is_floating_point() else X.to(torch.float64)


def _check_finite(derived: torch.Tensor, X: torch.Tensor, name: str = "X") -> None:
    """Raise ValueError if ``X`` holds NaN or infinite values.

    ``derived`` is computed from ``X`` (``X`` itself, or its window sums):
    a NaN or infinity in ``X`` makes its sum non-finite, so one cheap
    reduction over the smaller tensor decides; ``X`` is scanned only then
    (a merely overflowing sum of finite values passes).
    """
    if derived.numel() and not torch.isfinite(derived.sum()):
        if torch.isnan(X).any():
            raise ValueError(f"{name} contains NaN values")
        if torch.isinf(X).any():
            raise ValueError(f"{name} contains infinite values")


def _out_dtype(X: torch.Tensor, dtype) -> torch.dtype:
    """Dtype of the returned images: ``dtype`` if given, else ``X``'s float dtype, else float64."""
    if dtype is None:
        return X.dtype if X.is_floating_point() else torch.float64
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a torch floating dtype, got {dtype!r}")
    return dtype


def _check_int(value, name: str, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]``; ValueError naming ``name`` otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        upper = "" if high is None else f" and <= {high}"
        raise ValueError(f"{name} must be >= {low}{upper}, got {value}")
    return value


def _check_image_size(image_size, n_timestamps: int) -> int:
    """Validate an output size against the series length."""
    size = _check_int(image_size, "image_size", 1)
    if size > n_timestamps:
        raise ValueError(f"image_size must be <= n_timestamps ({n_timestamps}), got {size}")
    return size


def _check_sample_range(sample_range) -> tuple[float, float] | None:
    """Validate a GAF ``sample_range``: None or ``(low, high)`` with -1 <= low < high <= 1."""
    if sample_range is None:
        return None
    if isinstance(sample_range, (str, bytes)) or not isinstance(sample_range, Sequence) or len(sample_range) != 2:
        raise ValueError(f"sample_range must be None or a pair (low, high), got {sample_range!r}")
    low, high = sample_range
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in (low, high)):
        raise ValueError(f"sample_range must hold two numbers, got {sample_range!r}")
    if not -1 <= low < high <= 1:
        raise ValueError(f"sample_range must satisfy -1 <= low < high <= 1, got {sample_range!r}")
    return float(low), float(high)


def _check_threshold(threshold):
    """Validate an RP ``threshold``: None, 'point', 'distance' or a number > 0."""
    if threshold is None or (isinstance(threshold, str) and threshold in ("point", "distance")):
        return threshold
    if isinstance(threshold, numbers.Real) and not isinstance(threshold, bool):
        if not threshold > 0:
            raise ValueError(f"threshold must be > 0 when it is a number, got {threshold!r}")
        return float(threshold)
    raise ValueError(f"threshold must be None, 'point', 'distance' or a number > 0, got {threshold!r}")


def _check_percentage(percentage, threshold):
    """Validate an RP ``percentage`` against its (checked) ``threshold``: a number in
    [0, 100] for 'point' and 'distance', None otherwise (it would be ignored)."""
    if threshold in ("point", "distance"):
        if isinstance(percentage, bool) or not isinstance(percentage, numbers.Real) or not 0 <= percentage <= 100:
            raise ValueError(
                f"percentage must be a number in [0, 100] with threshold {threshold!r}, got {percentage!r}"
            )
        return percentage
    if percentage is not None:
        what = "no threshold (the distance plot)" if threshold is None else f"the fixed distance threshold {threshold}"
        raise ValueError(
            f"percentage={percentage!r} would be ignored with {what}: it is used only with threshold "
            "'point' or 'distance'; set it to None"
        )
    return None


# --------------------------------------------------------------------------- #
# Segmentation
# --------------------------------------------------------------------------- #
def _segments(n_timestamps: int, n_segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows splitting ``n_timestamps`` into ``n_segments``.

    Returns
    -------
    start, length : numpy int64 arrays, shape (n_segments,)
        Window ``k`` covers ``[start[k], start[k] + length[k])``. The bounds are
        ``floor(np.linspace(0, n_timestamps, n_segments + 1))``, i.e. exactly
        the windows ``pyts`` uses (same float arithmetic, same truncation).
    """
    bounds = np.linspace(0, n_timestamps, n_segments + 1).astype(np.int64)
    return bounds[:-1], np.diff(bounds)


# --------------------------------------------------------------------------- #
# numpy's 'linear' quantiles (MTF bin edges, RP 'point' thresholds)
# --------------------------------------------------------------------------- #
def _percentile_positions(n_values: int, fractions: np.ndarray):
    """Order-statistic positions and weights of numpy's 'linear' quantile method.

    Parameters
    ----------
    n_values : int
        Number of values the quantiles are taken over.
    fractions : numpy float64 array, values in [0, 1]

    Returns
    -------
    lower, upper : numpy int64 arrays
        Indices into the sorted values (``upper == lower`` at the top end).
    weight : numpy float64 array
        Interpolation weight of ``upper``.
    """
    position = (n_values - 1) * fractions
    lower = np.floor(position)
    weight = position - lower
    at_top = position >= n_values - 1
    lower = np.where(at_top, n_values - 1, lower).astype(np.int64)
    upper = np.where(at_top, lower, lower + 1).astype(np.int64)
    return lower, upper, weight


def _interpolate(low: torch.Tensor, high: torch.Tensor, weight) -> torch.Tensor:
    """numpy's quantile interpolation ``low + (high - low) * w`` (from ``high`` when ``w >= 0.5``)."""
    weight = torch.as_tensor(weight, dtype=low.dtype, device=low.device)
    diff = high - low
    return torch.where(weight >= 0.5, high - diff * (1 - weight), low + diff * weight)


# --------------------------------------------------------------------------- #
# Output buffers
# --------------------------------------------------------------------------- #
def _empty(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Uninitialized tensor for a (large) result.

    On CPU it is backed by numpy, which advises the kernel to use huge pages
    for large arrays: first-touch page faults are then several times cheaper
    than for torch's own allocations, and they dominate filling a fresh
    multi-megabyte image batch.
    """
    if torch.device(device).type == "cpu" and dtype in _NUMPY_DTYPES:
        return torch.from_numpy(np.empty(shape, dtype=_NUMPY_DTYPES[dtype]))
    return torch.empty(shape, dtype=dtype, device=device)


def _result(out: torch.Tensor | None, shape: tuple[int, ...], dtype: torch.dtype, device) -> torch.Tensor:
    """``out`` (a preallocated (n, S, S) view) or a fresh tensor from :func:`_empty`."""
    return _empty(shape, dtype, device) if out is None else out


_FUSED_MODULE = f"{__package__}._fused"
#: Output pixels from which ``CNNPRACTICE_FUSED=auto`` loads the fused kernels: loading
#: numba costs a process about 0.4 s, which they win back (0.4-0.7 ns a pixel) from
#: about 2^30 pixels (4 GiB of float32 images) on.
FUSED_AUTO_PIXELS = 2**30
_FUSED_MODES = ("auto", "1", "0")
#: Series dtypes the fused kernels take: their float64 window sums are exact (so equal to the
#: torch path's) unless values inside a window span about 2^25; float64 series are not.
_FUSED_INPUTS = (torch.float32, torch.float16, torch.bfloat16)


def _fused_mode() -> str:
    """``CNNPRACTICE_FUSED``: ``auto`` (default), ``1`` (use the fused kernels) or ``0`` (never)."""
    mode = os.environ.get("CNNPRACTICE_FUSED", "auto").strip().lower() or "auto"
    if mode not in _FUSED_MODES:
        raise ValueError(f"environment variable CNNPRACTICE_FUSED must be one of {_FUSED_MODES}, got {mode!r}")
    return mode


def _load_fused():
    """The fused kernel module, imported if need be; None where numba cannot be imported."""
    module = sys.modules.get(_FUSED_MODULE)
    if module is not None:
        return module
    try:
        return importlib.import_module(_FUSED_MODULE)
    except ImportError:
        return None


def _fused_kernels(X: torch.Tensor, out_dtype: torch.dtype, block: torch.Tensor | None):
    """The fused CPU kernels (:mod:`._fused`) when they apply, else None (the torch path).

    They apply to float32 images of a non-empty CPU batch of float32 (or half) series,
    written into a C-contiguous block, when numba can be imported, and are used as
    ``CNNPRACTICE_FUSED`` says: ``1`` always (an error if numba is missing), ``0`` never,
    ``auto`` once loaded in this process (by a call of at least :data:`FUSED_AUTO_PIXELS`
    pixels, e.g. a large :func:`transform_to_npy`, or an import). Both paths give the
    same images.
    """
    mode = _fused_mode()
    if mode == "0" or block is None or out_dtype != torch.float32 or X.device.type != "cpu":
        return None
    if X.dtype not in _FUSED_INPUTS or X.shape[0] == 0:
        return None
    module = sys.modules.get(_FUSED_MODULE)
    if module is not None or (mode == "auto" and block.numel() < FUSED_AUTO_PIXELS):
        return module
    module = _load_fused()
    if module is None and mode == "1":
        raise ValueError(
            "environment variable CNNPRACTICE_FUSED=1 asks for the fused kernels, but numba cannot be "
            "imported; install numba (requirements.txt) or set CNNPRACTICE_FUSED=auto or 0"
        )
    return module


def _target(
    out: torch.Tensor | None, channel: int | None, shape: tuple[int, int, int], dtype: torch.dtype, device
) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """Where an (n, S, S) result goes, as ``(image, block, index)``.

    ``out`` is None (a fresh buffer from :func:`_empty`), an (n, S, S) tensor, or, with
    ``channel``, an (n, C, S, S) stack of which the result is channel ``channel``.
    ``block[:, index]`` is ``image`` when ``block`` is a C-contiguous (n, C, S, S) tensor
    (the layout the fused kernels write at full speed), else ``block`` is None.
    """
    if out is None:
        block = _empty((shape[0], 1, shape[1], shape[2]), dtype, device)
        return block[:, 0], block, 0
    if channel is None:
        block = out.unsqueeze(1)
        return out, (block if block.is_contiguous() else None), 0
    return out[:, channel], (out if out.is_contiguous() else None), channel
