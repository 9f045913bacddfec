"""Engineered image features for the small-datasets study: HOG, HGD and HCFeats.

Every extractor takes uint8 images shaped ``(N, C, H, W)`` with ``C`` 1 or 3
(a read-only ``np.memmap`` is fine: it is read ``chunk_size`` images at a time)
and returns float32 features shaped ``(N, D)``, ``D`` fixed by the parameters
and the image size. RGB images are first turned into uint8 grayscale with the
ITU-R 601 luma weights, ``round(0.299 R + 0.587 G + 0.114 B)``, so an RGB image
whose three channels are equal gives exactly the features of that gray image.

HCFeats lives in :mod:`.hcfeats`, the shared checks and chunking in :mod:`.imagechunks`.
Importing this module loads only numpy; scikit-image is imported on first use.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

import numpy as np

from cnnpractice.smalldata.hcfeats import hcfeats_features
from cnnpractice.smalldata.imagechunks import apply_chunked, check_images, check_int, check_pair, check_range

HGD_EPS = 1e-6  # gradient magnitudes at or below this (image in [0, 1]) have no direction
BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")


# --------------------------------------------------------------------------- #
# HOG
# --------------------------------------------------------------------------- #
def hog_features(
    images, *, orientations=9, pixels_per_cell=(4, 4), cells_per_block=(2, 2), block_norm="L2-Hys", chunk_size=512
) -> np.ndarray:
    """Histograms of oriented gradients (``skimage.feature.hog``, one image at a time).

    The defaults suit 28x28 images (Fashion-MNIST): 4x4-pixel cells give a 7x7
    grid of cells, so 6x6 overlapping 2x2-cell blocks of 9 unsigned orientations
    (20 degrees each), ``D = 6 * 6 * 2 * 2 * 9 = 1296``. The gradient is computed
    on the raw gray levels without gamma correction (``transform_sqrt=False``);
    block normalisation makes the features invariant to contrast. A constant
    image gives all zeros. Features are ordered as skimage's ``feature_vector``:
    (block row, block col, cell row in block, cell col in block, orientation).

    Parameters
    ----------
    images : uint8 array, shape (N, C, H, W), C 1 or 3
    orientations : int >= 1
    pixels_per_cell, cells_per_block : int or (int, int)
    block_norm : {"L1", "L1-sqrt", "L2", "L2-Hys"}
    chunk_size : int >= 1
        Images read from ``images`` at a time.

    Returns
    -------
    float32 array, shape (N, D)

    Examples
    --------
    >>> hog_features(np.zeros((2, 1, 28, 28), np.uint8)).shape
    (2, 1296)
    """
    orientations = check_int(orientations, "orientations", 1)
    ppc = check_pair(pixels_per_cell, "pixels_per_cell")
    cpb = check_pair(cells_per_block, "cells_per_block")
    if block_norm not in BLOCK_NORMS:
        raise ValueError(f"block_norm must be one of {list(BLOCK_NORMS)}, got {block_norm!r}")
    arr = check_images(images)
    height, width = arr.shape[2:]
    if height < ppc[0] * cpb[0] or width < ppc[1] * cpb[1]:
        raise ValueError(f"images of {height}x{width} pixels hold no HOG block of {cpb} cells of {ppc} pixels")
    from skimage.feature import hog

    def per_chunk(gray):
        return np.stack(
            [
                hog(
                    im,
                    orientations=orientations,
                    pixels_per_cell=ppc,
                    cells_per_block=cpb,
                    block_norm=block_norm,
                    feature_vector=True,
                )
                for im in gray
            ]
        )

    return apply_chunked(arr, chunk_size, per_chunk)


# --------------------------------------------------------------------------- #
# HGD
# --------------------------------------------------------------------------- #
def _hgd_chunk(gray: np.ndarray, bins: int, cells: tuple[int, int], low: float, high: float) -> np.ndarray:
    n, height, width = gray.shape
    img = gray / 255.0
    gy, gx = np.gradient(img, axis=(1, 2))
    mag = np.hypot(gx, gy)
    directed = mag > HGD_EPS
    safe = np.where(directed, mag, 1.0)
    ux = np.where(directed, gx / safe, 0.0)
    uy = np.where(directed, gy / safe, 0.0)
    div = np.gradient(ux, axis=2) + np.gradient(uy, axis=1)
    b = np.floor((np.clip(div, low, high) - low) * (bins / (high - low))).astype(np.intp)
    np.minimum(b, bins - 1, out=b)  # div == high falls in the last bin
    cell = ((np.arange(height) * cells[0]) // height)[:, None] * cells[1] + (np.arange(width) * cells[1]) // width
    n_cells = cells[0] * cells[1]
    index = ((np.arange(n)[:, None, None] * n_cells + cell) * bins + b).ravel()
    hist = np.bincount(index, weights=mag.ravel(), minlength=n * n_cells * bins).reshape(n, n_cells, bins)
    total = hist.sum(axis=2, keepdims=True)
    hist = np.divide(hist, total, out=np.zeros_like(hist), where=total > 0)
    return hist.reshape(n, n_cells * bins)


def hgd_features(images, *, bins=16, cells=(4, 4), value_range=None, chunk_size=512) -> np.ndarray:
    """Histograms of gradient divergence (HGD): where the gradient directions converge or spread.

    Per gray image ``I`` (uint8, ``H x W``), vectorised over each chunk:

    1. ``f = I / 255`` (values in [0, 1]).
    2. ``(gx, gy) = np.gradient(f)`` along columns (x) and rows (y): central
       differences inside, one-sided differences on the border; ``m = |(gx, gy)|``.
    3. Direction field ``u = (gx, gy) / m`` where ``m > 1e-6`` and ``u = 0``
       elsewhere (flat pixels have no direction).
    4. Divergence ``d = d(ux)/dx + d(uy)/dy``, again with ``np.gradient``. Inside
       the image ``|d| <= 2``. Negative where directions converge (the slope of
       a smooth bright blob: gradients point inwards), positive where they
       spread (a dark blob), zero where the direction is constant (a linear
       ramp). A sharp edge between flat regions gives both signs, as ``u``
       jumps from 0 to the edge normal and back.
    5. The image is split into ``cells = (rows, cols)`` cells (pixel row ``r``
       belongs to cell row ``r * rows // H``, likewise columns). Per cell, a
       histogram of ``d`` over ``bins`` equal bins of the fixed range
       ``value_range`` (default ``(-2, 2)``; ``d`` is clipped to it, pixel goes to bin
       ``floor((d - low) * bins / (high - low))``, the top edge to the last bin),
       each pixel weighted by its gradient magnitude ``m``.
    6. Each cell's histogram is L1-normalised (a cell with no gradient, e.g. in
       a constant image, stays all zeros); cells are concatenated row-major:
       ``D = rows * cols * bins``, feature ``(cell_row * cols + cell_col) * bins + bin``.

    With the defaults (16 bins over [-2, 2]) zero divergence falls in bin 8, [0, 0.25).

    Parameters
    ----------
    images : uint8 array, shape (N, C, H, W), C 1 or 3
    bins : int >= 1
    cells : int or (int, int), at most (H, W)
    value_range : (float, float) or None
        ``(low, high)`` of the divergence bins, ``low < high``; None means ``(-2, 2)``.
    chunk_size : int >= 1

    Returns
    -------
    float32 array, shape (N, rows * cols * bins)

    Examples
    --------
    >>> ramp = np.tile(np.arange(28, dtype=np.uint8) * 9, (1, 1, 28, 1))
    >>> f = hgd_features(ramp)
    >>> f.shape, float(f.reshape(16, 16)[:, 8].min())
    ((1, 256), 1.0)
    """
    bins = check_int(bins, "bins", 1)
    cells = check_pair(cells, "cells")
    low, high = (-2.0, 2.0) if value_range is None else check_range(value_range)
    arr = check_images(images)
    height, width = arr.shape[2:]
    if height < max(2, cells[0]) or width < max(2, cells[1]):
        raise ValueError(
            f"images of {height}x{width} pixels are too small for {cells} HGD cells "
            "(need at least 2 pixels and one pixel per cell along each axis)"
        )
    return apply_chunked(arr, chunk_size, lambda gray: _hgd_chunk(gray, bins, cells, low, high))


# --------------------------------------------------------------------------- #
# By name
# --------------------------------------------------------------------------- #
#: The extractors by name: ``f(images, **params) -> float32 (N, D)``.
EXTRACTORS: dict[str, Callable[..., np.ndarray]] = {
    "hog": hog_features,
    "hgd": hgd_features,
    "hcfeats": hcfeats_features,
}


def _allowed_params(name: str) -> list[str]:
    return [p for p in inspect.signature(EXTRACTORS[name]).parameters if p != "images"]


def extract(name: str, images, params: dict | None = None) -> np.ndarray:
    """Features ``name`` (a key of :data:`EXTRACTORS`) of ``images`` with keyword ``params``.

    Raises ValueError naming an unknown extractor or parameter and the accepted ones.

    Examples
    --------
    >>> extract("hcfeats", np.zeros((3, 3, 16, 16), np.uint8)).shape
    (3, 17)
    """
    if name not in EXTRACTORS:
        raise ValueError(f"unknown feature extractor {name!r}; accepted: {sorted(EXTRACTORS)}")
    params = {} if params is None else params
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict of keyword arguments for {name!r}, got {params!r}")
    unknown = sorted(set(params) - set(_allowed_params(name)))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for feature extractor {name!r}; accepted: {_allowed_params(name)}"
        )
    return EXTRACTORS[name](images, **params)
