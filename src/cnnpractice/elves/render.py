"""Light into movies: the exact time integral of decaying light over the readout's bins."""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter


def log_uniform(rng: np.random.Generator, bounds) -> float:
    """A draw uniform in log between ``bounds`` = (low, high)."""
    lo, hi = bounds
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def deposit(pixel, t_us, amplitude, n_pixels: int, n_bins: int, bin_us: float, decay_us: float) -> np.ndarray:
    """Sum light into (pixel, time bin): ``amplitude`` pe that start at ``t_us`` (from the
    window's start) and decay as exp(-t / decay_us), integrated exactly over bins of
    ``bin_us`` (``decay_us`` 0: all at once). Light that started before the window brings
    what is left of it; light after the window is lost. Returns (n_pixels, n_bins)."""
    pixel, t_us, amplitude = (np.asarray(a) for a in (pixel, t_us, amplitude))
    k = np.floor(t_us / bin_us).astype(np.int64)
    size = n_pixels * n_bins
    if decay_us <= 0:
        ok = (k >= 0) & (k < n_bins)
        out = np.bincount(pixel[ok] * n_bins + k[ok], weights=amplitude[ok], minlength=size)
        return out.reshape(n_pixels, n_bins)
    before = k < 0
    bin_end = np.where(before, 0.0, (k + 1) * bin_us)
    left = amplitude * np.exp(-(bin_end - t_us) / decay_us)  # still to come after that bin
    inside = ~before & (k < n_bins)
    direct = np.bincount(pixel[inside] * n_bins + k[inside], weights=(amplitude - left)[inside], minlength=size)
    carry_bin = np.where(before, 0, k + 1)
    carried = carry_bin < n_bins
    carry = np.bincount(pixel[carried] * n_bins + carry_bin[carried], weights=left[carried], minlength=size)
    a = math.exp(-bin_us / decay_us)
    tail = lfilter([1.0 - a], [1.0, -a], carry.reshape(n_pixels, n_bins), axis=1)
    return direct.reshape(n_pixels, n_bins) + tail
