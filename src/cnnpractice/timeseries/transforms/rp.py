"""Recurrence plots (RP) of the PAA-reduced series, as ``pyts.image.RecurrencePlot``.

Two image types come from here: the unthresholded *distance plot* (:func:`rp_distance`,
transform ``rp``) and the binary recurrence plot of Eckmann, Oliffson Kamphorst & Ruelle
(1987) (:func:`rp_binary`, transform ``rp_binary``): pixel (i, j) is 1 where trajectories
i and j are closer than a threshold, given as a distance or as the percentage of
recurrent points. :func:`recurrence_plot` is the general function behind both.
"""

from __future__ import annotations

import numpy as np
import torch

from ._common import (
    _as_2d,
    _check_finite,
    _check_int,
    _check_percentage,
    _check_threshold,
    _fused_kernels,
    _interpolate,
    _out_dtype,
    _percentile_positions,
    _result,
    _target,
)
from .paa import _paa64


def _trajectory_distances(
    series: torch.Tensor, image_size: int, dimension: int, time_delay: int, out: torch.Tensor | None = None
) -> torch.Tensor:
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
        coord = series[:, d * time_delay : d * time_delay + image_size]
        if d == 0:
            torch.sub(coord[:, :, None], coord[:, None, :], out=dist).square_()
        else:
            diff = coord[:, :, None] - coord[:, None, :]
            dist.add_(diff.mul_(diff))
    if dist.dtype == torch.float64:
        return dist.sqrt_()
    # rounded once from float64: torch's float32 CPU sqrt is not always correctly rounded
    return dist.copy_(dist.to(torch.float64).sqrt_())


def _point_threshold(dist: torch.Tensor, percentage) -> torch.Tensor:
    """Per-sample ``np.percentile(dist.reshape(n, -1), percentage, axis=1)``, shape (n,).

    ``dist`` is a distance plot: symmetric with a zero diagonal, exactly (``|a - b|`` and
    sums of squares are bitwise symmetric). Its sorted values are therefore the S zeros of
    the diagonal followed by every value of the upper triangle twice, so each order
    statistic is one of the upper triangle's, a selection over half the values; the next
    one, where numpy interpolates, is a masked minimum instead of a second selection. The
    result is bitwise numpy's.
    """
    n, size = dist.shape[0], dist.shape[1]
    lower, upper, weight = _percentile_positions(size * size, np.asarray([percentage / 100.0]))
    lo, hi = int(lower[0]), int(upper[0])
    if hi < size:  # both order statistics are zeros of the diagonal
        zero = dist.new_zeros(n)
        return _interpolate(zero, zero, weight[0])
    rows, cols = torch.triu_indices(size, size, offset=1, device=dist.device)
    tri = dist[:, rows, cols]  # (n, S (S - 1) / 2)
    j_hi = (hi - size) // 2  # the upper statistic's rank in the triangle
    if lo < size:  # the last zero, then the triangle's smallest value
        return _interpolate(dist.new_zeros(n), tri.amin(dim=1), weight[0])
    j_lo = (lo - size) // 2
    low = tri.kthvalue(j_lo + 1, dim=1).values
    if j_hi == j_lo:
        return _interpolate(low, low, weight[0])
    # the (j_lo + 1)-th value: low again where it occurs more than j_lo + 1 times, else the
    # smallest value above it
    at_most = (tri <= low[:, None]).sum(dim=1)
    above = torch.where(tri > low[:, None], tri, torch.inf).amin(dim=1)
    high = torch.where(at_most > j_lo + 1, low, above)
    return _interpolate(low, high, weight[0])


def _rp(
    X: torch.Tensor,
    image_size,
    dimension,
    time_delay,
    threshold,
    percentage,
    out_dtype,
    out: torch.Tensor | None = None,
    channel: int | None = None,
) -> torch.Tensor:
    """RP of a 2D floating batch; see :func:`recurrence_plot`.

    ``out`` (optional): an (n, S, S) tensor of dtype ``out_dtype`` to write into, or with
    ``channel`` an (n, C, S, S) stack whose channel ``channel`` is written. Float32
    distance plots on the CPU come from the fused kernel (:mod:`._fused`).
    """
    size = _check_int(image_size, "image_size", 1)
    dimension = _check_int(dimension, "dimension", 1)
    time_delay = _check_int(time_delay, "time_delay", 1)
    threshold = _check_threshold(threshold)
    percentage = _check_percentage(percentage, threshold)
    needed = size + (dimension - 1) * time_delay
    if needed > X.shape[1]:
        raise ValueError(f"image_size + (dimension - 1) * time_delay = {needed} must be <= n_timestamps ({X.shape[1]})")
    image, block, index = _target(out, channel, (X.shape[0], size, size), out_dtype, X.device)
    fused = _fused_kernels(X, out_dtype, block)
    if fused is not None and threshold is None:
        if not fused.rp(X, size, dimension, time_delay, block, index):
            _check_finite(torch.tensor(float("nan")), X)  # a mean was not finite: NaN or inf in X?
        return image
    # pyts's exact window sums matter only where distances are compared.
    series = _paa64(X, needed, exact=threshold is not None)
    _check_finite(series, X)
    if threshold is None:
        if out_dtype != torch.float64:
            # Lower-precision output: compute the distances in that precision
            # (far cheaper than a float64 (n, S, S) intermediate), from
            # per-sample centred values so the rounding error scales with the
            # series' spread, not its offset.
            # (the mean summed left to right, as the fused kernel does: the same pixels)
            mean = series.cumsum(dim=1)[:, -1:] / series.shape[1]
            series = (series - mean).to(out_dtype)
        return _trajectory_distances(series, size, dimension, time_delay, image)
    dist = _trajectory_distances(series, size, dimension, time_delay)
    if threshold == "point":
        limit = _point_threshold(dist, percentage)[:, None, None]
    elif threshold == "distance":
        limit = (percentage / 100) * dist.amax(dim=(1, 2))[:, None, None]
    else:
        limit = threshold
    return image.copy_(dist < limit)


def recurrence_plot(
    X, image_size, dimension: int = 1, time_delay: int = 1, threshold=None, percentage=None, dtype=None
) -> torch.Tensor:
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
        interpolation), so about ``percentage`` % of the pixels are 1.
        'distance': ``percentage / 100`` of the sample's maximum distance. A
        number: that fixed threshold. Binary images are 1 where the distance is
        strictly below the threshold (as pyts).
    percentage : float in [0, 100] or None
        Required by 'point' and 'distance'; must be None otherwise (a value
        that would be ignored is an error, not a silent no-op).
    dtype : torch.dtype, optional
        Dtype of the result; default ``X``'s floating dtype (float64 for integers).

    Returns
    -------
    torch.Tensor, shape (n_samples, S, S), on ``X``'s device.
    """
    X = _as_2d(X)
    return _rp(X, image_size, dimension, time_delay, threshold, percentage, _out_dtype(X, dtype))


def rp_distance(X, image_size, dimension: int = 1, time_delay: int = 1, dtype=None) -> torch.Tensor:
    """The unthresholded recurrence plot (distances between trajectories): transform ``rp``.

    See :func:`recurrence_plot` (``threshold=None``).
    """
    return recurrence_plot(X, image_size, dimension, time_delay, None, None, dtype)


def rp_binary(
    X, image_size, dimension: int = 1, time_delay: int = 1, threshold="point", percentage=10, dtype=None
) -> torch.Tensor:
    """The thresholded (binary) recurrence plot of Eckmann et al. (1987): transform ``rp_binary``.

    ``threshold`` is ``'point'`` (``percentage`` % of each image's pixels are recurrent),
    ``'distance'`` (``percentage`` % of its largest distance) or a fixed distance (then
    ``percentage`` must be None). See :func:`recurrence_plot`.

    Examples
    --------
    >>> rp_binary([[0.0, 1.0, 3.0, 2.0]], 4, threshold=1.5, percentage=None).int().tolist()
    [[[1, 1, 0, 0], [1, 1, 0, 1], [0, 0, 1, 1], [0, 1, 1, 1]]]
    """
    if threshold is None:
        raise ValueError("rp_binary needs a threshold ('point', 'distance' or a distance > 0); rp is the distance plot")
    return recurrence_plot(X, image_size, dimension, time_delay, threshold, percentage, dtype)
