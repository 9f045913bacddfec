"""Aggregated Markov transition fields (MTF), as ``pyts.image.MarkovTransitionField``.

Edge rules (shared with ``pyts``):

* **Quantile bins.** Bin edges are numpy's linear-interpolation percentiles of
  each series; an edge closer than ``1e-8`` to the next one is dropped, and a
  value equal to an edge falls in the lower bin.
* **Normal bins.** ``strategy='normal'`` compares the *raw* values with
  standard-normal quantiles (pyts does not standardize the series).
* **Aggregation.** The transition matrix is estimated on the *full-length*
  discretized series; pixel ``(a, b)`` of the ``S x S`` image is the mean of
  the full ``L x L`` field over window ``a`` x window ``b`` (the windows of
  :func:`~cnnpractice.timeseries.transforms.paa`). It is computed as
  ``C T C^T`` with ``C`` the (row-normalized) per-window bin counts, so the
  ``L x L`` field is never materialized.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._common import (
    _as_2d,
    _check_finite,
    _check_image_size,
    _check_int,
    _interpolate,
    _out_dtype,
    _percentile_positions,
    _result,
    _segments,
)

_STRATEGIES = ("quantile", "uniform", "normal")
# Quantile edges closer than this are merged (pyts's KBinsDiscretizer rule).
_EDGE_ATOL = 1e-8


# --------------------------------------------------------------------------- #
# Discretization
# --------------------------------------------------------------------------- #
def _quantile_edges(X: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Per-sample quantile bin edges, near-duplicates replaced by +inf.

    Parameters
    ----------
    X : torch.Tensor, shape (n, L), float32 or float64
        Sorted in its own precision (float32 sorts twice as fast; converting to
        float64 is exact and keeps the order, so the edges are the same).

    Returns
    -------
    torch.Tensor, shape (n, n_bins - 1), float64
        Edge ``k`` is the ``100 k / n_bins`` percentile of the row (numpy's
        linear interpolation). An edge within ``1e-8`` of the next edge is
        dropped (set to +inf, so it never counts as below a value).
    """
    fractions = np.linspace(0, 100, n_bins + 1)[1:-1] / 100.0
    lower, upper, weight = _percentile_positions(X.shape[1], fractions)
    ordered = _sorted_rows(X)
    device = X.device
    edges = _interpolate(
        ordered[:, torch.as_tensor(lower, device=device)].to(torch.float64),
        ordered[:, torch.as_tensor(upper, device=device)].to(torch.float64),
        weight,
    )
    close = (edges[:, 1:] - edges[:, :-1]).abs() <= _EDGE_ATOL
    last = torch.zeros((edges.shape[0], 1), dtype=torch.bool, device=device)  # the last edge is always kept
    dropped = torch.cat((close, last), dim=1)
    return edges.masked_fill(dropped, math.inf)


def _uniform_edges(X: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Per-sample equal-width edges ``min + k * (max - min) / n_bins`` in float64, shape (n, n_bins - 1)."""
    row_min = X.amin(dim=1, keepdim=True).to(torch.float64)
    step = (X.amax(dim=1, keepdim=True).to(torch.float64) - row_min) / n_bins
    k = torch.arange(1, n_bins, dtype=torch.float64, device=X.device)
    return row_min + k * step


def _normal_edges(n_bins: int, device) -> torch.Tensor:
    """Standard-normal quantiles ``Phi^-1(k / n_bins)``, shape (n_bins - 1,), shared by all samples."""
    fractions = torch.as_tensor(np.linspace(0, 1, n_bins + 1)[1:-1], device=device)
    return torch.special.ndtri(fractions)


def _sorted_rows(X: torch.Tensor) -> torch.Tensor:
    """Each row sorted ascending (numpy's sort on CPU, where it is several times faster)."""
    if X.device.type == "cpu":
        return torch.from_numpy(np.sort(X.numpy(), axis=1))
    return X.sort(dim=1).values


def _round_down(edges: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """float64 ``edges`` rounded towards -inf into ``dtype``.

    For a value ``x`` of ``dtype``, ``x > edge`` exactly when ``x > _round_down(edge)``:
    the rounded edge is the largest ``dtype`` number not above ``edge``, so the next one
    is above it. Infinite edges stay infinite.
    """
    rounded = edges.to(dtype)
    too_high = rounded.to(torch.float64) > edges
    return torch.where(too_high, torch.nextafter(rounded, torch.full_like(rounded, -math.inf)), rounded)


def _count_below(edges: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Number of edges strictly below each value (numpy ``searchsorted(side='left')``).

    Parameters
    ----------
    edges : torch.Tensor, shape (n_edges,) or (n, n_edges), float64
        Dropped edges are +inf and never count.
    X : torch.Tensor, shape (n, L), float32 or float64
        float32 values are compared with the edges rounded down to float32
        (:func:`_round_down`), which decides every comparison as float64 would,
        at half the memory traffic.

    Returns
    -------
    torch.Tensor, shape (n, L), int32
    """
    if X.dtype != torch.float64:
        edges = _round_down(edges, X.dtype)
    n_edges = edges.shape[-1]
    counts = torch.zeros(X.shape, dtype=torch.uint8 if n_edges < 256 else torch.int32, device=X.device)
    for k in range(n_edges):  # a handful of bins: one vectorized comparison per edge
        counts += X > edges[..., k : k + 1]
    return counts.to(torch.int32)


def _discretize(X: torch.Tensor, n_bins: int, strategy: str) -> torch.Tensor:
    """Bin each series like ``pyts.preprocessing.KBinsDiscretizer``.

    ``X`` is float32 or float64 (edges are always computed in float64; float32
    values are binned exactly as their float64 copies would be, without the copy).

    Returns
    -------
    torch.Tensor, shape (n, L), int32, values in [0, n_bins - 1]
    """
    if strategy == "quantile":
        edges = _quantile_edges(X, n_bins)
    elif strategy == "uniform":
        edges = _uniform_edges(X, n_bins)
    else:
        edges = _normal_edges(n_bins, X.device)
    return _count_below(edges, X)


# --------------------------------------------------------------------------- #
# Transition matrix and window bin fractions
# --------------------------------------------------------------------------- #
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


# --------------------------------------------------------------------------- #
# Markov transition field
# --------------------------------------------------------------------------- #
def _mtf(
    X: torch.Tensor, image_size, n_bins, strategy, out_dtype: torch.dtype, out: torch.Tensor | None = None
) -> torch.Tensor:
    """MTF of a 2D floating batch; see :func:`markov_transition_field`.

    ``out`` (optional): an (n, S, S) tensor of dtype ``out_dtype`` to write into.
    """
    size = _check_image_size(image_size, X.shape[1])
    n_bins = _check_int(n_bins, "n_bins", 2)
    if strategy not in _STRATEGIES:
        raise ValueError(f"strategy must be one of {_STRATEGIES}, got {strategy!r}")
    # float32 series are binned as they are (exactly as their float64 copies; see _discretize)
    values = X if X.dtype in (torch.float32, torch.float64) else X.to(torch.float64)
    _check_finite(values, X)
    bins = _discretize(values, n_bins, strategy)
    transitions = _transition_matrix(bins, n_bins)
    fractions = _window_bin_fractions(bins, n_bins, size)
    left = torch.bmm(fractions, transitions).to(out_dtype)  # (n, S, n_bins)
    right = fractions.to(out_dtype).transpose(1, 2)  # (n, n_bins, S)
    if out is not None and not out.is_contiguous():  # e.g. one channel of a stack
        return out.copy_(torch.bmm(left, right))  # (faster than a strided matmul output)
    return torch.bmm(left, right, out=_result(out, (X.shape[0], size, size), out_dtype, X.device))


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
