"""Gramian angular summation/difference fields (GASF/GADF), as ``pyts``.

Each series is reduced by PAA, min-max scaled per sample to ``sample_range``
(scikit-learn's ``MinMaxScaler`` arithmetic) and read as ``cos`` of an angle.
"""

from __future__ import annotations

import numpy as np
import torch

from ._common import (
    _as_2d,
    _check_finite,
    _check_image_size,
    _check_sample_range,
    _fused_kernels,
    _out_dtype,
    _target,
)
from .paa import _paa64

_GAF_METHODS = {"summation": "summation", "s": "summation", "difference": "difference", "d": "difference"}


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


def _gaf(
    X: torch.Tensor,
    image_size,
    method: str,
    sample_range,
    out_dtype: torch.dtype,
    out: torch.Tensor | None = None,
    channel: int | None = None,
) -> torch.Tensor:
    """GASF/GADF of a 2D floating batch; see :func:`gramian_angular_field`.

    ``out`` (optional): an (n, S, S) tensor of dtype ``out_dtype`` to write into, or with
    ``channel`` an (n, C, S, S) stack whose channel ``channel`` is written. Float32 images
    on the CPU come from the fused kernel (:mod:`._fused`), the same numbers in one pass.
    """
    size = _check_image_size(image_size, X.shape[1])
    if method not in _GAF_METHODS:
        raise ValueError(f"method must be 'summation' or 'difference', got {method!r}")
    sample_range = _check_sample_range(sample_range)
    summation = _GAF_METHODS[method] == "summation"
    image, block, index = _target(out, channel, (X.shape[0], size, size), out_dtype, X.device)
    fused = _fused_kernels(X, out_dtype, block)
    if fused is not None and sample_range is not None:
        if not fused.gaf(X, size, *sample_range, summation, block, index):
            _check_finite(torch.tensor(float("nan")), X)  # a mean was not finite: NaN or inf in X?
        return image
    reduced = _paa64(X, size, exact=False)  # GAF is continuous in the means: no need for pyts's order
    _check_finite(reduced, X)
    if sample_range is None:
        if reduced.numel() and (reduced.min() < -1 or reduced.max() > 1):
            raise ValueError("with sample_range=None every (PAA-reduced) value of X must lie in [-1, 1]")
        cos = reduced
    else:
        cos = _minmax_scale(reduced, *sample_range)
    # sin = sqrt(clip(1 - cos**2, 0, 1)), rounded once to the output precision (torch's
    # float32 CPU sqrt is not always correctly rounded; the fused kernel's is).
    sin = (1 - cos * cos).clamp_(0, 1).sqrt_()
    cos, sin = cos.to(out_dtype), sin.to(out_dtype)
    # GASF[i, j] = cos_i cos_j - sin_i sin_j ; GADF[i, j] = sin_i cos_j - cos_i sin_j, each
    # product rounded on its own: addcmul would fuse the second into the subtraction on
    # some CPUs' kernels and not on others, so the pixels would depend on the machine.
    first, second = (cos, sin) if summation else (sin, cos)
    torch.mul(first[:, :, None], cos[:, None, :], out=image)
    return image.sub_(second[:, :, None] * sin[:, None, :])


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
