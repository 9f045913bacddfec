"""Batched torch implementations of the 1D -> 2D time-series imaging transforms.

Gramian angular fields (GASF/GADF), Markov transition fields (MTF) and
recurrence plots (RP: the distance plot ``rp`` and Eckmann's thresholded
``rp_binary``), vectorized over the batch (batch first) so they run on
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
RP distances ~1 float32 ulp of the series' spread); square roots are rounded
once, from float64. Everything is vectorized over the batch; the only Python
loops run over bins or embedding dimensions.

Speed: float32 GASF/GADF and distance plots on the CPU can come from fused
numba kernels (:mod:`._fused`) that write each image in one pass with the PAA
of the next series interleaved; they give the torch path's images (tested bit
for bit) in a quarter to a third of its time. Loading numba costs a process about
0.4 s (and a few seconds of compilation the first time on a machine), so the
environment variable ``CNNPRACTICE_FUSED`` decides: ``auto`` (default) uses them
once loaded, which a :func:`transform_to_npy` of at least ``FUSED_AUTO_PIXELS``
pixels does; ``1`` always; ``0`` never. The torch path also serves other dtypes,
CUDA and machines without numba. Importing this package loads only numpy and
torch.

One algorithm per submodule: :mod:`.paa`, :mod:`.gaf`, :mod:`.mtf`,
:mod:`.rp` (shared validation and buffer helpers in :mod:`._common`); this
package re-exports their public functions and stacks them as image channels
(:func:`make_images`, :func:`transform_to_npy`).
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from ._common import FUSED_AUTO_PIXELS, _as_2d, _check_image_size, _check_int, _empty, _fused_mode, _load_fused
from .gaf import _gaf, gadf, gasf, gramian_angular_field
from .mtf import _discretize, _mtf, markov_transition_field  # noqa: F401 (tests use _discretize)
from .paa import paa
from .rp import _rp, recurrence_plot, rp_binary, rp_distance

__all__ = [
    "TRANSFORMS",
    "gadf",
    "gasf",
    "gramian_angular_field",
    "make_images",
    "markov_transition_field",
    "paa",
    "recurrence_plot",
    "rp_binary",
    "rp_distance",
    "transform_to_npy",
]


# --------------------------------------------------------------------------- #
# Channel stacks and files
# --------------------------------------------------------------------------- #
#: Public transforms by name: ``f(X, image_size, **params) -> (n, S, S)``.
TRANSFORMS: dict[str, Callable[..., torch.Tensor]] = {
    "gasf": gasf,
    "gadf": gadf,
    "mtf": markov_transition_field,
    "rp": rp_distance,
    "rp_binary": rp_binary,
}


# Same transforms on a 2D floating batch, writing channel `c` of the (n, C, S, S) stack
# `out` (used by make_images).
_IMPLEMENTATIONS: dict[str, Callable[..., torch.Tensor]] = {
    "gasf": lambda X, size, out, c, sample_range=(-1, 1): _gaf(X, size, "summation", sample_range, out.dtype, out, c),
    "gadf": lambda X, size, out, c, sample_range=(-1, 1): _gaf(X, size, "difference", sample_range, out.dtype, out, c),
    "mtf": lambda X, size, out, c, n_bins=8, strategy="quantile": _mtf(X, size, n_bins, strategy, out.dtype, out[:, c]),
    "rp": lambda X, size, out, c, dimension=1, time_delay=1: _rp(
        X, size, dimension, time_delay, None, None, out.dtype, out, c
    ),
    "rp_binary": lambda X, size, out, c, dimension=1, time_delay=1, threshold="point", percentage=10: _rp(
        X, size, dimension, time_delay, _binary_threshold(threshold), percentage, out.dtype, out, c
    ),
}


def _binary_threshold(threshold):
    if threshold is None:
        raise ValueError("rp_binary needs a threshold ('point', 'distance' or a distance > 0); rp is the distance plot")
    return threshold


@functools.cache
def _allowed_params(name: str) -> frozenset[str]:
    """Keyword parameters a user may set for transform ``name`` (not X, image_size, dtype)."""
    params = inspect.signature(TRANSFORMS[name]).parameters
    return frozenset(params) - {"X", "image_size", "dtype"}


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
                f"unknown parameter(s) {unknown} for transform {name!r}; allowed: {sorted(_allowed_params(name))}"
            )
        plan.append((name, dict(kwargs)))
    return plan


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
        _IMPLEMENTATIONS[name](X, size, out, channel, **kwargs)
    return out


def transform_to_npy(
    X,
    out_path: str | os.PathLike,
    channels,
    image_size,
    params=None,
    chunk_size: int = 256,
    device="cpu",
    progress: bool = True,
) -> tuple[int, int, int, int]:
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
    if device.type == "cpu" and _fused_mode() == "auto" and math.prod(shape) >= FUSED_AUTO_PIXELS:
        _load_fused()  # worth numba's start-up for this file: every chunk then uses the kernels
    starts = range(0, X.shape[0], chunk_size)
    with atomic_path(out_path, suffix=".npy") as tmp:
        out = open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        try:
            for start in tqdm(
                starts,
                desc=f"images -> {os.path.basename(out_path)}",
                unit="chunk",
                disable=not progress,
                file=sys.stderr,
            ):
                chunk = torch.as_tensor(X[start : start + chunk_size]).to(device)
                out[start : start + chunk_size] = make_images(chunk, channels, size, params).cpu().numpy()
            out.flush()
        finally:
            del out
    return shape
