"""Piecewise aggregate approximation (PAA) with ``pyts``'s non-overlapping windows.

Also the float64 reduction used by the GAF and RP transforms (:func:`_paa64`).
"""

from __future__ import annotations

import torch

from ._common import _as_2d, _check_finite, _check_int, _segments


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
    last = X64[:, int(start[-1]) :].cumsum(dim=1)[:, -1:]
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
