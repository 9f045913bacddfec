"""Batched torch implementations of the 1D -> 2D time-series imaging transforms.

Gramian angular fields (GASF/GADF), Markov transition fields (MTF) and
recurrence plots (RP), vectorized over the batch (batch first) so they run on
CPU and CUDA tensors alike. They reproduce the outputs of the ``pyts`` library
(``GramianAngularField``, ``MarkovTransitionField``, ``RecurrencePlot`` with an
integer ``image_size`` and non-overlapping windows), including its edge rules:

* **Segmentation.** Reducing ``L`` timestamps to ``S`` values (PAA, and the MTF
  aggregation) uses the windows ``[b_k, b_{k+1})`` with
  ``b = floor(linspace(0, L, S + 1))``. When ``S`` does not divide ``L`` the
  windows have lengths ``floor(L / S)`` or ``ceil(L / S)``, spread over the
  series (not "all long windows first").
* **Quantile bins.** Bin edges are numpy's linear-interpolation percentiles of
  each series; an edge closer than ``1e-8`` to the next one is dropped, and a
  value equal to an edge falls in the lower bin.
* **MTF.** The transition matrix is estimated on the *full-length* discretized
  series; pixel ``(a, b)`` of the ``S x S`` image is the mean of the full
  ``L x L`` field over window ``a`` x window ``b``. It is computed as
  ``C T C^T`` with ``C`` the (row-normalized) per-window bin counts, so the
  ``L x L`` field is never materialized.

* **Normal bins.** ``strategy='normal'`` compares the *raw* values with
  standard-normal quantiles (pyts does not standardize the series).

Precision: whatever decides a discrete outcome (bin edges, the window sums
and distances an RP threshold is compared with) is computed in float64 with
``pyts``'s operation order, so bins and binary pixels agree exactly. Continuous
outputs are computed in float64 up to the final image products, which are
formed in the requested ``dtype`` (float32 images: errors ~1e-7 for GAF/MTF;
RP distances ~1 float32 ulp of the series' spread). Everything is vectorized
over the batch; the only Python loops run over bins or embedding dimensions.
Importing this module loads only numpy and torch.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
import sys
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

__all__ = [
    "TRANSFORMS",
    "gadf",
    "gasf",
    "gramian_angular_field",
    "make_images",
    "markov_transition_field",
    "paa",
    "recurrence_plot",
    "transform_to_npy",
]

_STRATEGIES = ("quantile", "uniform", "normal")
_GAF_METHODS = {"summation": "summation", "s": "summation", "difference": "difference", "d": "difference"}
_NUMPY_DTYPES = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}
# Quantile edges closer than this are merged (pyts's KBinsDiscretizer rule).
_EDGE_ATOL = 1e-8


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
        raise ValueError(
            f"{name} must be 2D with shape (n_samples, n_timestamps), got shape {tuple(X.shape)}"
        )
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
        raise ValueError(
            f"image_size must be <= n_timestamps ({n_timestamps}), got {size}"
        )
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


def _check_percentage(percentage) -> float:
    """Validate an RP ``percentage`` in [0, 100]."""
    if isinstance(percentage, bool) or not isinstance(percentage, numbers.Real) or not 0 <= percentage <= 100:
        raise ValueError(f"percentage must be a number in [0, 100], got {percentage!r}")
    return percentage


# --------------------------------------------------------------------------- #
# Segmentation and piecewise aggregate approximation
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


def _paa64(X: torch.Tensor, n_segments: int, exact: bool = True) -> torch.Tensor:
    """PAA of a floating tensor, computed in float64.

    Parameters
    ----------
    X : torch.Tensor, shape (n, L), floating
    n_segments : int, 1 <= n_segments <= L
    exact : bool
        Sum each window left to right like ``pyts`` (numba's ``np.mean``), so
        the result is bitwise equal to it (a sequential prefix sum's last
        entry is the window total). False allows faster, differently rounded
        (~1e-16 relative) reductions.

    Returns
    -------
    torch.Tensor, shape (n, n_segments), float64
    """
    n, length = X.shape
    if n_segments == length:
        return X.to(torch.float64)
    start, seg_len = _segments(length, n_segments)
    width = int(seg_len.max())
    if length % n_segments == 0:
        if exact:
            totals = X.to(torch.float64).reshape(n, n_segments, width).cumsum(dim=-1)[..., -1]
        else:
            totals = X.reshape(n, n_segments, width).sum(dim=-1, dtype=torch.float64)
        return totals / width
    X64 = X.to(torch.float64)
    device = X.device
    # All windows but the last are read through a strided view of every
    # length-`width` window; windows one shorter ignore their last element.
    windows = X64.unfold(1, width, 1)[:, torch.as_tensor(start[:-1], device=device)]
    if exact:
        last_pos = torch.as_tensor(seg_len[:-1] - 1, device=device).expand(n, n_segments - 1)
        totals = windows.cumsum(dim=-1).gather(-1, last_pos.unsqueeze(-1)).squeeze(-1)
    else:
        short = torch.as_tensor(seg_len[:-1] < width, device=device)
        totals = windows.sum(dim=-1) - windows[..., -1] * short
    last = X64[:, int(start[-1]):].cumsum(dim=1)[:, -1:]
    totals = torch.cat((totals, last), dim=1)
    return totals / torch.as_tensor(seg_len, dtype=torch.float64, device=device)


def paa(X, output_size) -> torch.Tensor:
    """Piecewise aggregate approximation with ``pyts``'s non-overlapping windows.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n_samples, n_timestamps)
    output_size : int
        Number of windows, ``1 <= output_size <= n_timestamps``. When it does
        not divide ``n_timestamps`` the windows have lengths
        ``floor(n_timestamps / output_size)`` or one more, with bounds
        ``floor(linspace(0, n_timestamps, output_size + 1))``.

    Returns
    -------
    torch.Tensor, shape (n_samples, output_size)
        Window means, computed in float64 and returned in ``X``'s floating
        dtype (float64 for integer input). ``X`` itself (as a tensor) when
        ``output_size == n_timestamps``.

    Raises
    ------
    ValueError
        If ``X`` is not 2D, contains NaN/inf, or ``output_size`` is out of range.
    """
    X = _as_2d(X)
    size = _check_int(output_size, "output_size", 1, X.shape[1])
    if size == X.shape[1]:
        _check_finite(X, X)
        return X
    reduced = _paa64(X, size)
    _check_finite(reduced, X)
    return reduced.to(X.dtype)


# --------------------------------------------------------------------------- #
# Gramian angular fields
# --------------------------------------------------------------------------- #
def _minmax_scale(X64: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Scale each row to ``[low, high]`` with scikit-learn's MinMaxScaler arithmetic.

    Rows whose range is below ``10 * eps`` are treated as having range 1
    (a constant row maps to ``low``).
    """
    row_min = X64.amin(dim=1, keepdim=True)
    row_range = X64.amax(dim=1, keepdim=True) - row_min
    row_range = torch.where(row_range < 10 * np.finfo(np.float64).eps, 1.0, row_range)
    scale = (high - low) / row_range
    offset = low - row_min * scale
    return (X64 * scale).add_(offset)  # not addcmul: a fused multiply-add rounds differently


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


def _gaf(X: torch.Tensor, image_size, method: str, sample_range, out_dtype: torch.dtype,
         out: torch.Tensor | None = None) -> torch.Tensor:
    """GASF/GADF of a 2D floating batch; see :func:`gramian_angular_field`.

    ``out`` (optional): an (n, S, S) tensor of dtype ``out_dtype`` to write into.
    """
    size = _check_image_size(image_size, X.shape[1])
    if method not in _GAF_METHODS:
        raise ValueError(f"method must be 'summation' or 'difference', got {method!r}")
    sample_range = _check_sample_range(sample_range)
    reduced = _paa64(X, size, exact=False)  # GAF is continuous in the means: no need for pyts's order
    _check_finite(reduced, X)
    if sample_range is None:
        if reduced.numel() and (reduced.min() < -1 or reduced.max() > 1):
            raise ValueError(
                "with sample_range=None every (PAA-reduced) value of X must lie in [-1, 1]"
            )
        cos = reduced
    else:
        cos = _minmax_scale(reduced, *sample_range)
    # sin = sqrt(clip(1 - cos**2, 0, 1)); the square root is taken in the
    # output precision (float64 sqrt is comparatively slow on CPU).
    sin = (1 - cos * cos).clamp_(0, 1)
    cos, sin = cos.to(out_dtype), sin.to(out_dtype).sqrt_()
    # GASF[i, j] = cos_i cos_j - sin_i sin_j ; GADF[i, j] = sin_i cos_j - cos_i sin_j
    # (two passes over the output; cheaper than a K=2 batched matmul)
    first, second = (cos, sin) if _GAF_METHODS[method] == "summation" else (sin, cos)
    image = _result(out, (X.shape[0], size, size), out_dtype, X.device)
    torch.mul(first[:, :, None], cos[:, None, :], out=image)
    return image.addcmul_(second[:, :, None], sin[:, None, :], value=-1)


def gramian_angular_field(X, image_size, method: str = "summation", sample_range=(-1, 1), dtype=None) -> torch.Tensor:
    """Gramian angular summation/difference field, as ``pyts.image.GramianAngularField``.

    Each series is reduced to ``image_size`` values by :func:`paa`, scaled per
    sample to ``sample_range`` (min-max), then with ``cos_i`` the scaled values
    and ``sin_i = sqrt(clip(1 - cos_i**2, 0, 1))``:
    GASF ``[i, j] = cos_i cos_j - sin_i sin_j`` and
    GADF ``[i, j] = sin_i cos_j - cos_i sin_j``.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n_samples, n_timestamps)
    image_size : int
        Side ``S`` of the images, ``1 <= S <= n_timestamps``.
    method : {'summation', 'difference'} (or 's', 'd')
    sample_range : (low, high) or None
        Per-sample scaling range, ``-1 <= low < high <= 1``. None: no scaling,
        and every reduced value must already lie in [-1, 1].
    dtype : torch.dtype, optional
        Dtype of the result; default ``X``'s floating dtype (float64 for integers).

    Returns
    -------
    torch.Tensor, shape (n_samples, S, S), on ``X``'s device.

    Raises
    ------
    ValueError
        On a bad ``X`` or parameter, or values outside [-1, 1] with ``sample_range=None``.
    """
    X = _as_2d(X)
    return _gaf(X, image_size, method, sample_range, _out_dtype(X, dtype))


def gasf(X, image_size, sample_range=(-1, 1), dtype=None) -> torch.Tensor:
    """Gramian angular summation field; :func:`gramian_angular_field` with ``method='summation'``.

    Returns
    -------
    torch.Tensor, shape (n_samples, image_size, image_size)
    """
    return gramian_angular_field(X, image_size, "summation", sample_range, dtype)


def gadf(X, image_size, sample_range=(-1, 1), dtype=None) -> torch.Tensor:
    """Gramian angular difference field; :func:`gramian_angular_field` with ``method='difference'``.

    Returns
    -------
    torch.Tensor, shape (n_samples, image_size, image_size)
    """
    return gramian_angular_field(X, image_size, "difference", sample_range, dtype)


# --------------------------------------------------------------------------- #
# Markov transition field
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


def _quantile_edges(X64: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Per-sample quantile bin edges, near-duplicates replaced by +inf.

    Returns
    -------
    torch.Tensor, shape (n, n_bins - 1), float64
        Edge ``k`` is the ``100 k / n_bins`` percentile of the row (numpy's
        linear interpolation). An edge within ``1e-8`` of the next edge is
        dropped (set to +inf, so it never counts as below a value).
    """
    fractions = np.linspace(0, 100, n_bins + 1)[1:-1] / 100.0
    lower, upper, weight = _percentile_positions(X64.shape[1], fractions)
    ordered = _sorted_rows(X64)
    device = X64.device
    edges = _interpolate(ordered[:, torch.as_tensor(lower, device=device)],
                         ordered[:, torch.as_tensor(upper, device=device)], weight)
    close = (edges[:, 1:] - edges[:, :-1]).abs() <= _EDGE_ATOL
    last = torch.zeros((edges.shape[0], 1), dtype=torch.bool, device=device)  # the last edge is always kept
    dropped = torch.cat((close, last), dim=1)
    return edges.masked_fill(dropped, math.inf)


def _uniform_edges(X64: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Per-sample equal-width edges ``min + k * (max - min) / n_bins``, shape (n, n_bins - 1)."""
    row_min = X64.amin(dim=1, keepdim=True)
    step = (X64.amax(dim=1, keepdim=True) - row_min) / n_bins
    k = torch.arange(1, n_bins, dtype=torch.float64, device=X64.device)
    return row_min + k * step


def _normal_edges(n_bins: int, device) -> torch.Tensor:
    """Standard-normal quantiles ``Phi^-1(k / n_bins)``, shape (n_bins - 1,), shared by all samples."""
    fractions = torch.as_tensor(np.linspace(0, 1, n_bins + 1)[1:-1], device=device)
    return torch.special.ndtri(fractions)


def _sorted_rows(X64: torch.Tensor) -> torch.Tensor:
    """Each row sorted ascending (numpy's sort on CPU, where it is several times faster)."""
    if X64.device.type == "cpu":
        return torch.from_numpy(np.sort(X64.numpy(), axis=1))
    return X64.sort(dim=1).values


def _count_below(edges: torch.Tensor, X64: torch.Tensor) -> torch.Tensor:
    """Number of edges strictly below each value (numpy ``searchsorted(side='left')``).

    Parameters
    ----------
    edges : torch.Tensor, shape (n_edges,) or (n, n_edges), float64
        Dropped edges are +inf and never count.
    X64 : torch.Tensor, shape (n, L), float64

    Returns
    -------
    torch.Tensor, shape (n, L), int32
    """
    n_edges = edges.shape[-1]
    counts = torch.zeros(X64.shape, dtype=torch.uint8 if n_edges < 256 else torch.int32, device=X64.device)
    for k in range(n_edges):  # a handful of bins: one vectorized comparison per edge
        counts += X64 > edges[..., k: k + 1]
    return counts.to(torch.int32)


def _discretize(X64: torch.Tensor, n_bins: int, strategy: str) -> torch.Tensor:
    """Bin each series like ``pyts.preprocessing.KBinsDiscretizer``.

    Returns
    -------
    torch.Tensor, shape (n, L), int32, values in [0, n_bins - 1]
    """
    if strategy == "quantile":
        edges = _quantile_edges(X64, n_bins)
    elif strategy == "uniform":
        edges = _uniform_edges(X64, n_bins)
    else:
        edges = _normal_edges(n_bins, X64.device)
    return _count_below(edges, X64)


def _index_dtype(n_codes: int) -> torch.dtype:
    """int32 (faster bincount) unless the flat codes could overflow it."""
    return torch.int32 if n_codes < 2**31 else torch.int64


def _transition_matrix(bins: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Row-normalized counts of consecutive bin pairs (all-zero rows stay zero).

    Parameters
    ----------
    bins : torch.Tensor, shape (n, L), integer bins in [0, n_bins)

    Returns
    -------
    torch.Tensor, shape (n, n_bins, n_bins), float64
    """
    n = bins.shape[0]
    n_codes = n * n_bins * n_bins
    bins = bins.to(_index_dtype(n_codes))
    base = torch.arange(n, dtype=bins.dtype, device=bins.device).unsqueeze(1) * (n_bins * n_bins)
    flat = (base + bins[:, :-1] * n_bins + bins[:, 1:]).reshape(-1)
    counts = torch.bincount(flat, minlength=n_codes).view(n, n_bins, n_bins).to(torch.float64)
    totals = counts.sum(dim=2, keepdim=True)
    return counts / torch.where(totals == 0, 1.0, totals)


def _window_bin_fractions(bins: torch.Tensor, n_bins: int, image_size: int) -> torch.Tensor:
    """Fraction of each window's timestamps falling in each bin.

    Parameters
    ----------
    bins : torch.Tensor, shape (n, L), integer bins in [0, n_bins)

    Returns
    -------
    torch.Tensor, shape (n, image_size, n_bins), float64
        ``[s, a, p]`` = (# timestamps of window ``a`` in bin ``p``) / len(window ``a``).
    """
    n, length = bins.shape
    _, seg_len = _segments(length, image_size)
    n_codes = n * image_size * n_bins
    bins = bins.to(_index_dtype(n_codes))
    device = bins.device
    window_of = torch.as_tensor(np.repeat(np.arange(image_size), seg_len), dtype=bins.dtype, device=device)
    base = torch.arange(n, dtype=bins.dtype, device=device).unsqueeze(1) * (image_size * n_bins)
    flat = (base + (window_of * n_bins + bins)).reshape(-1)
    counts = torch.bincount(flat, minlength=n_codes).view(n, image_size, n_bins)
    return counts.to(torch.float64) / torch.as_tensor(seg_len, dtype=torch.float64, device=device).unsqueeze(1)


def _mtf(X: torch.Tensor, image_size, n_bins, strategy, out_dtype: torch.dtype,
         out: torch.Tensor | None = None) -> torch.Tensor:
    """MTF of a 2D floating batch; see :func:`markov_transition_field`.

    ``out`` (optional): an (n, S, S) tensor of dtype ``out_dtype`` to write into.
    """
    size = _check_image_size(image_size, X.shape[1])
    n_bins = _check_int(n_bins, "n_bins", 2)
    if strategy not in _STRATEGIES:
        raise ValueError(f"strategy must be one of {_STRATEGIES}, got {strategy!r}")
    X64 = X.to(torch.float64)
    _check_finite(X64, X)
    bins = _discretize(X64, n_bins, strategy)
    transitions = _transition_matrix(bins, n_bins)
    fractions = _window_bin_fractions(bins, n_bins, size)
    left = torch.bmm(fractions, transitions).to(out_dtype)  # (n, S, n_bins)
    right = fractions.to(out_dtype).transpose(1, 2)  # (n, n_bins, S)
    if out is not None and not out.is_contiguous():  # e.g. one channel of a stack
        return out.copy_(torch.bmm(left, right))  # (faster than a strided matmul output)
    return torch.bmm(left, right, out=_result(out, (X64.shape[0], size, size), out_dtype, X64.device))


def markov_transition_field(X, image_size, n_bins: int = 8, strategy: str = "quantile", dtype=None) -> torch.Tensor:
    """Aggregated Markov transition field, as ``pyts.image.MarkovTransitionField``.

    Each full-length series is discretized into ``n_bins`` bins (per sample;
    see the module docstring for the edge rules), the first-order transition
    matrix ``T`` of consecutive bins is estimated and row-normalized, and the
    field ``M[i, j] = T[q_i, q_j]`` is averaged over the ``S x S`` blocks of
    the non-overlapping windows (the same windows as :func:`paa`). ``M`` is
    never materialized: the result is ``F T F^T`` with ``F`` the per-window bin
    fractions.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n_samples, n_timestamps)
    image_size : int
        Side ``S`` of the images, ``1 <= S <= n_timestamps``.
    n_bins : int, >= 2
    strategy : {'quantile', 'uniform', 'normal'}
        'quantile': per-sample percentiles; 'uniform': per-sample equal widths
        between min and max; 'normal': standard-normal quantiles applied to
        the raw values (no standardization, as in ``pyts``).
    dtype : torch.dtype, optional
        Dtype of the result; default ``X``'s floating dtype (float64 for integers).

    Returns
    -------
    torch.Tensor, shape (n_samples, S, S), on ``X``'s device.
    """
    X = _as_2d(X)
    return _mtf(X, image_size, n_bins, strategy, _out_dtype(X, dtype))


# --------------------------------------------------------------------------- #
# Recurrence plot
# --------------------------------------------------------------------------- #
def _trajectory_distances(series: torch.Tensor, image_size: int, dimension: int, time_delay: int,
                          out: torch.Tensor | None = None) -> torch.Tensor:
    """Euclidean distances between the delay-embedded trajectories.

    Parameters
    ----------
    series : torch.Tensor, shape (n, image_size + (dimension - 1) * time_delay)
    out : torch.Tensor, shape (n, image_size, image_size), optional
        Written into (same dtype as ``series``); allocated when None.

    Returns
    -------
    torch.Tensor, shape (n, image_size, image_size), ``series``' dtype.
        The squared differences are accumulated coordinate by coordinate,
        like ``pyts``, so ties and threshold comparisons come out identically.
    """
    dist = _result(out, (series.shape[0], image_size, image_size), series.dtype, series.device)
    if dimension == 1:
        return torch.sub(series[:, :, None], series[:, None, :], out=dist).abs_()
    for d in range(dimension):
        coord = series[:, d * time_delay: d * time_delay + image_size]
        if d == 0:
            torch.sub(coord[:, :, None], coord[:, None, :], out=dist).square_()
        else:
            diff = coord[:, :, None] - coord[:, None, :]
            dist.add_(diff.mul_(diff))
    return dist.sqrt_()


def _point_threshold(dist: torch.Tensor, percentage) -> torch.Tensor:
    """Per-sample ``np.percentile(dist.reshape(n, -1), percentage, axis=1)``, shape (n,)."""
    flat = dist.reshape(dist.shape[0], -1)
    lower, upper, weight = _percentile_positions(flat.shape[1], np.asarray([percentage / 100.0]))
    low = flat.kthvalue(int(lower[0]) + 1, dim=1).values
    high = low if upper[0] == lower[0] else flat.kthvalue(int(upper[0]) + 1, dim=1).values
    return _interpolate(low, high, weight[0])


def _rp(X: torch.Tensor, image_size, dimension, time_delay, threshold, percentage, out_dtype,
        out: torch.Tensor | None = None) -> torch.Tensor:
    """RP of a 2D floating batch; see :func:`recurrence_plot`.

    ``out`` (optional): an (n, S, S) tensor of dtype ``out_dtype`` to write into.
    """
    size = _check_int(image_size, "image_size", 1)
    dimension = _check_int(dimension, "dimension", 1)
    time_delay = _check_int(time_delay, "time_delay", 1)
    threshold = _check_threshold(threshold)
    percentage = _check_percentage(percentage)
    needed = size + (dimension - 1) * time_delay
    if needed > X.shape[1]:
        raise ValueError(
            f"image_size + (dimension - 1) * time_delay = {needed} must be <= n_timestamps "
            f"({X.shape[1]})"
        )
    # pyts's exact window sums matter only where distances are compared.
    series = _paa64(X, needed, exact=threshold is not None)
    _check_finite(series, X)
    if threshold is None:
        if out_dtype != torch.float64:
            # Lower-precision output: compute the distances in that precision
            # (far cheaper than a float64 (n, S, S) intermediate), from
            # per-sample centred values so the rounding error scales with the
            # series' spread, not its offset.
            series = (series - series.mean(dim=1, keepdim=True)).to(out_dtype)
        return _trajectory_distances(series, size, dimension, time_delay, out)
    dist = _trajectory_distances(series, size, dimension, time_delay)
    if threshold == "point":
        limit = _point_threshold(dist, percentage)[:, None, None]
    elif threshold == "distance":
        limit = (percentage / 100) * dist.amax(dim=(1, 2))[:, None, None]
    else:
        limit = threshold
    image = _result(out, dist.shape, out_dtype, dist.device)
    return image.copy_(dist < limit)


def recurrence_plot(X, image_size, dimension: int = 1, time_delay: int = 1, threshold=None,
                    percentage=10, dtype=None) -> torch.Tensor:
    """Recurrence plot of the PAA-reduced series, as ``pyts.image.RecurrencePlot``.

    Each series is first reduced by :func:`paa` to
    ``image_size + (dimension - 1) * time_delay`` values, so that there are
    exactly ``image_size`` trajectories
    ``(x_i, x_{i + time_delay}, ..., x_{i + (dimension - 1) time_delay})``;
    pixel ``(i, j)`` is the Euclidean distance between trajectories ``i`` and
    ``j``, optionally binarized as ``distance < threshold``.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n_samples, n_timestamps)
    image_size : int
        Side ``S`` of the images; ``S + (dimension - 1) * time_delay`` must
        not exceed ``n_timestamps``.
    dimension, time_delay : int, >= 1
    threshold : None, 'point', 'distance' or float > 0
        None: the distances themselves. 'point': per-sample threshold at the
        ``percentage`` percentile of the distances (numpy linear
        interpolation). 'distance': ``percentage / 100`` of the sample's
        maximum distance. A number: that fixed threshold. Binary images are 1
        where the distance is strictly below the threshold.
    percentage : float in [0, 100]
        Used by 'point' and 'distance' only.
    dtype : torch.dtype, optional
        Dtype of the result; default ``X``'s floating dtype (float64 for integers).

    Returns
    -------
    torch.Tensor, shape (n_samples, S, S), on ``X``'s device.
    """
    X = _as_2d(X)
    return _rp(X, image_size, dimension, time_delay, threshold, percentage,
               _out_dtype(X, dtype))


# --------------------------------------------------------------------------- #
# Channel stacks and files
# --------------------------------------------------------------------------- #
#: Public transforms by name: ``f(X, image_size, **params) -> (n, S, S)``.
TRANSFORMS: dict[str, Callable[..., torch.Tensor]] = {
    "gasf": gasf,
    "gadf": gadf,
    "mtf": markov_transition_field,
    "rp": recurrence_plot,
}

# Same transforms on a 2D floating batch, writing into `out` (used by make_images).
_IMPLEMENTATIONS: dict[str, Callable[..., torch.Tensor]] = {
    "gasf": lambda X, size, out, sample_range=(-1, 1): _gaf(
        X, size, "summation", sample_range, out.dtype, out),
    "gadf": lambda X, size, out, sample_range=(-1, 1): _gaf(
        X, size, "difference", sample_range, out.dtype, out),
    "mtf": lambda X, size, out, n_bins=8, strategy="quantile": _mtf(
        X, size, n_bins, strategy, out.dtype, out),
    "rp": lambda X, size, out, dimension=1, time_delay=1, threshold=None, percentage=10: _rp(
        X, size, dimension, time_delay, threshold, percentage, out.dtype, out),
}


def _allowed_params(name: str) -> set[str]:
    """Keyword parameters a user may set for transform ``name`` (not X, image_size, dtype)."""
    params = inspect.signature(TRANSFORMS[name]).parameters
    return set(params) - {"X", "image_size", "dtype"}


def _check_channels(channels, params) -> list[tuple[str, dict]]:
    """Validate ``channels`` and ``params``; return ``[(name, kwargs), ...]`` in channel order.

    ``params`` may hold entries for known transforms that are not among
    ``channels`` (they are ignored), but not for unknown names.
    """
    if isinstance(channels, str) or not isinstance(channels, Sequence) or len(channels) == 0:
        raise ValueError(f"channels must be a non-empty list of transform names, got {channels!r}")
    params = {} if params is None else params
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict of transform name -> kwargs, got {params!r}")
    for name in list(channels) + list(params):
        if name not in TRANSFORMS:
            raise ValueError(f"unknown transform {name!r}; known: {sorted(TRANSFORMS)}")
    plan = []
    for name in channels:
        kwargs = params.get(name) or {}
        if not isinstance(kwargs, Mapping):
            raise ValueError(f"params[{name!r}] must be a dict of keyword arguments, got {kwargs!r}")
        unknown = sorted(set(kwargs) - _allowed_params(name))
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {unknown} for transform {name!r}; "
                f"allowed: {sorted(_allowed_params(name))}"
            )
        plan.append((name, dict(kwargs)))
    return plan


@torch.no_grad()
def make_images(X, channels, image_size, params=None) -> torch.Tensor:
    """Stack several transforms of each series as image channels.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n_samples, n_timestamps)
    channels : list of str
        Transform names from :data:`TRANSFORMS`, one per channel, e.g.
        ``["gasf", "gadf", "mtf"]`` (the Wang & Oates stack).
    image_size : int
        Side ``S`` of the images.
    params : dict, optional
        Transform name -> keyword arguments for it, e.g.
        ``{"mtf": {"n_bins": 8, "strategy": "quantile"}}``. Entries for
        transforms not in ``channels`` are ignored.

    Returns
    -------
    torch.Tensor, shape (n_samples, C, S, S), float32, on ``X``'s device.

    Raises
    ------
    ValueError
        Naming the unknown transform or parameter, or the bad input/value.
    """
    plan = _check_channels(channels, params)
    X = _as_2d(X)
    size = _check_image_size(image_size, X.shape[1])
    out = _empty((X.shape[0], len(plan), size, size), torch.float32, X.device)
    for channel, (name, kwargs) in enumerate(plan):
        _IMPLEMENTATIONS[name](X, size, out[:, channel], **kwargs)
    return out


def transform_to_npy(X, out_path: str | os.PathLike, channels, image_size, params=None, chunk_size: int = 256,
                     device="cpu", progress: bool = True) -> tuple[int, int, int, int]:
    """Compute :func:`make_images` chunk by chunk and write them to a ``.npy`` file.

    The file is filled through a memory map, so peak memory is bounded by one
    chunk, and written atomically (temporary file beside ``out_path``, renamed
    on success; nothing is left behind on failure).

    Parameters
    ----------
    X : numpy.ndarray, shape (n_samples, n_timestamps)
        Series (float32 expected; any real dtype is accepted).
    out_path : path of the ``.npy`` file to write.
    channels, image_size, params : see :func:`make_images`.
    chunk_size : int, >= 1
        Series transformed at a time.
    device : str or torch.device
        Where the chunks are computed (results are moved back to CPU).
    progress : bool
        Show a tqdm progress bar over chunks on stderr.

    Returns
    -------
    tuple of int
        Shape of the written array, ``(n_samples, C, S, S)`` (dtype float32).
    """
    from numpy.lib.format import open_memmap
    from tqdm.auto import tqdm

    from cnnpractice.io import atomic_path

    plan = _check_channels(channels, params)
    chunk_size = _check_int(chunk_size, "chunk_size", 1)
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2D with shape (n_samples, n_timestamps), got shape {X.shape}")
    size = _check_image_size(image_size, X.shape[1])
    device = torch.device(device)
    shape = (X.shape[0], len(plan), size, size)
    starts = range(0, X.shape[0], chunk_size)
    with atomic_path(out_path, suffix=".npy") as tmp:
        out = open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        try:
            for start in tqdm(starts, desc=f"images -> {os.path.basename(out_path)}", unit="chunk",
                              disable=not progress, file=sys.stderr):
                chunk = torch.as_tensor(X[start:start + chunk_size]).to(device)
                out[start:start + chunk_size] = make_images(chunk, channels, size, params).cpu().numpy()
            out.flush()
        finally:
            del out
    return shape
