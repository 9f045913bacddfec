"""Engineered image features for the small-datasets study: HOG, HGD and HCFeats.

Every extractor takes uint8 images shaped ``(N, C, H, W)`` with ``C`` 1 or 3
(a read-only ``np.memmap`` is fine: it is read ``chunk_size`` images at a time)
and returns float32 features shaped ``(N, D)``, ``D`` fixed by the parameters
and the image size. RGB images are first turned into uint8 grayscale with the
ITU-R 601 luma weights, ``round(0.299 R + 0.587 G + 0.114 B)``, so an RGB image
whose three channels are equal gives exactly the features of that gray image.

Importing this module loads only numpy; scikit-image is imported on first use.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from collections.abc import Callable, Mapping
from math import pi

import numpy as np

__all__ = ["EXTRACTORS", "HCFEATS_NAMES", "extract", "hcfeats_features", "hgd_features", "hog_features"]

LUMA_601 = (0.299, 0.587, 0.114)
HGD_EPS = 1e-6  # gradient magnitudes at or below this (image in [0, 1]) have no direction
BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")

HCFEATS_NAMES = (
    "mean",
    "std",
    "skewness",
    "kurtosis",
    "entropy",
    "p10",
    "p90",
    "glcm_contrast",
    "glcm_dissimilarity",
    "glcm_homogeneity",
    "glcm_energy",
    "glcm_correlation",
    "glcm_asm",
    "fg_area_fraction",
    "fg_eccentricity",
    "fg_solidity",
    "fg_extent",
)
GLCM_PROPS = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation", "ASM")


# --------------------------------------------------------------------------- #
# Validation and chunking
# --------------------------------------------------------------------------- #
def _check_images(images) -> np.ndarray:
    """The images as an array (a memmap stays a memmap: nothing is read here)."""
    arr = np.asanyarray(images)
    if arr.ndim != 4 or arr.dtype != np.uint8 or arr.shape[1] not in (1, 3):
        raise ValueError(
            "images must be a uint8 array shaped (N, C, H, W) with C 1 (gray) or 3 (RGB); "
            f"got dtype {arr.dtype} and shape {arr.shape}"
        )
    return arr


def _check_int(value, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        upper = "" if high is None else f" and <= {high}"
        raise ValueError(f"{name} must be >= {low}{upper}, got {value}")
    return int(value)


def _check_pair(value, name: str) -> tuple[int, int]:
    """An int ``n`` (meaning ``(n, n)``) or a pair of ints >= 1, as a tuple."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        value = (value, value)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints (rows, cols), got {value!r}")
    return _check_int(value[0], name, 1), _check_int(value[1], name, 1)


def _gray(chunk: np.ndarray) -> np.ndarray:
    """uint8 ``(n, C, H, W)`` -> uint8 ``(n, H, W)`` (ITU-R 601 luma, rounded, for RGB)."""
    if chunk.shape[1] == 1:
        return np.ascontiguousarray(chunk[:, 0])
    rgb = chunk.astype(np.float64)
    luma = LUMA_601[0] * rgb[:, 0] + LUMA_601[1] * rgb[:, 1] + LUMA_601[2] * rgb[:, 2]
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)


def _apply(arr: np.ndarray, chunk_size, per_chunk: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Run ``per_chunk`` (gray uint8 ``(n, H, W)`` -> ``(n, D)``) over ``arr`` chunk by chunk."""
    chunk_size = _check_int(chunk_size, "chunk_size", 1)
    n = arr.shape[0]
    if n == 0:  # D still depends on the image size: take it from one blank image
        return per_chunk(np.zeros((1, *arr.shape[2:]), np.uint8))[:0].astype(np.float32)
    out = None
    for start in range(0, n, chunk_size):
        feats = per_chunk(_gray(np.asarray(arr[start : start + chunk_size])))
        if out is None:
            out = np.empty((n, feats.shape[1]), np.float32)
        out[start : start + len(feats)] = feats
    return out


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
    orientations = _check_int(orientations, "orientations", 1)
    ppc = _check_pair(pixels_per_cell, "pixels_per_cell")
    cpb = _check_pair(cells_per_block, "cells_per_block")
    if block_norm not in BLOCK_NORMS:
        raise ValueError(f"block_norm must be one of {list(BLOCK_NORMS)}, got {block_norm!r}")
    arr = _check_images(images)
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

    return _apply(arr, chunk_size, per_chunk)


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
    bins = _check_int(bins, "bins", 1)
    cells = _check_pair(cells, "cells")
    low, high = (-2.0, 2.0) if value_range is None else _check_range(value_range)
    arr = _check_images(images)
    height, width = arr.shape[2:]
    if height < max(2, cells[0]) or width < max(2, cells[1]):
        raise ValueError(
            f"images of {height}x{width} pixels are too small for {cells} HGD cells "
            "(need at least 2 pixels and one pixel per cell along each axis)"
        )
    return _apply(arr, chunk_size, lambda gray: _hgd_chunk(gray, bins, cells, low, high))


def _check_range(value_range) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be None or (low, high), got {value_range!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"value_range must be finite with low < high, got {value_range!r}")
    return low, high


# --------------------------------------------------------------------------- #
# HCFeats
# --------------------------------------------------------------------------- #
def _intensity_stats(gray: np.ndarray) -> np.ndarray:
    """Columns 0-6 of HCFeats for a chunk, vectorised: ``(n, H, W)`` -> ``(n, 7)``."""
    n = len(gray)
    flat = gray.reshape(n, -1)
    size = flat.shape[1]
    x = flat / 255.0
    mean = flat.sum(axis=1, dtype=np.int64) / (255.0 * size)  # exact for constant images
    z = x - mean[:, None]
    var = (z**2).mean(axis=1)
    varies = flat.min(axis=1) != flat.max(axis=1)
    safe_var = np.where(varies, var, 1.0)
    skew = np.where(varies, (z**3).mean(axis=1) / safe_var**1.5, 0.0)
    kurt = np.where(varies, (z**4).mean(axis=1) / safe_var**2 - 3.0, 0.0)
    counts = np.bincount((flat + 256 * np.arange(n)[:, None]).ravel(), minlength=256 * n).reshape(n, 256)
    p = counts / size
    entropy = 0.0 - np.sum(p * np.log2(np.where(p > 0, p, 1.0)), axis=1)  # 0.0 - : no -0.0
    p10, p90 = np.percentile(x, [10, 90], axis=1)
    return np.stack([mean, np.sqrt(var), skew, kurt, entropy, p10, p90], axis=1)


def _shape_stats(image: np.ndarray, threshold_otsu, label, regionprops) -> list[float]:
    """Columns 13-16 of HCFeats for one gray image."""
    if image.min() == image.max():
        return [0.0, 0.0, 0.0, 0.0]
    mask = image > threshold_otsu(image)
    if not mask.any():
        return [0.0, 0.0, 0.0, 0.0]
    labels = label(mask, connectivity=2)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    region = regionprops((labels == sizes.argmax()).astype(np.uint8))[0]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        values = [float(region.eccentricity), float(region.solidity), float(region.extent)]
    return [float(mask.mean())] + [v if np.isfinite(v) else 0.0 for v in values]


def hcfeats_features(
    images, *, glcm_distances=(1,), glcm_angles=(0, pi / 4, pi / 2, 3 * pi / 4), levels=32, chunk_size=512
) -> np.ndarray:
    """Seventeen hand-crafted features (HCFeats): intensity statistics, GLCM texture, foreground shape.

    Computed on the gray image ``I`` (uint8) and ``x = I / 255``. Columns, in
    the order of :data:`HCFEATS_NAMES`:

    ==  ==================  ==============================================================
     0  mean                mean of ``x``
     1  std                 population standard deviation of ``x``
     2  skewness            ``E[(x - mean)^3] / std^3``; 0 for a constant image
     3  kurtosis            excess kurtosis ``E[(x - mean)^4] / std^4 - 3``; 0 for a constant image
     4  entropy             Shannon entropy (bits) of the 256-bin histogram of ``I``
     5  p10                 10th percentile of ``x`` (numpy's linear interpolation)
     6  p90                 90th percentile of ``x``
     7  glcm_contrast       ``sum P(i,j) (i-j)^2``
     8  glcm_dissimilarity  ``sum P(i,j) |i-j|``
     9  glcm_homogeneity    ``sum P(i,j) / (1 + (i-j)^2)``
    10  glcm_energy         ``sqrt(ASM)``
    11  glcm_correlation    ``sum P(i,j) (i-mu_i)(j-mu_j) / (sigma_i sigma_j)``; 1 when a sigma is 0
    12  glcm_asm            angular second moment ``sum P(i,j)^2``
    13  fg_area_fraction    fraction of pixels in the foreground ``I > otsu(I)``
    14  fg_eccentricity     eccentricity of the ellipse with the same second moments as the
                            largest 8-connected foreground component (0 circle, -> 1 line)
    15  fg_solidity         area of that component / area of its convex hull
    16  fg_extent           area of that component / area of its bounding box
    ==  ==================  ==============================================================

    GLCM columns: ``P`` is ``skimage.feature.graycomatrix`` of ``I`` quantised to
    ``levels`` gray levels (``I * levels // 256``), symmetric and normalised,
    one matrix per (distance, angle); each property (``graycoprops``) is
    averaged over all distances and angles. The foreground is the bright side of
    the Otsu threshold (bright objects on a dark background, as in
    Fashion-MNIST).

    Constant images are finite: std, skewness, kurtosis, entropy, contrast,
    dissimilarity and columns 13-16 are 0 (no foreground); homogeneity, energy,
    ASM and correlation are 1. A shape value skimage cannot define is 0.

    Parameters
    ----------
    images : uint8 array, shape (N, C, H, W), C 1 or 3
    glcm_distances : sequence of int >= 1
        Pixel pair distances.
    glcm_angles : sequence of float
        Pixel pair angles in radians.
    levels : int in [2, 256]
    chunk_size : int >= 1

    Returns
    -------
    float32 array, shape (N, 17)

    Examples
    --------
    >>> half = np.zeros((1, 1, 28, 28), np.uint8)
    >>> half[..., 14:] = 255
    >>> f = hcfeats_features(half)
    >>> f.shape, float(f[0, HCFEATS_NAMES.index("fg_area_fraction")])
    ((1, 17), 0.5)
    """
    distances = _check_sequence(glcm_distances, "glcm_distances", integer=True)
    angles = _check_sequence(glcm_angles, "glcm_angles", integer=False)
    levels = _check_int(levels, "levels", 2, 256)
    arr = _check_images(images)
    from skimage.feature import graycomatrix, graycoprops
    from skimage.filters import threshold_otsu
    from skimage.measure import label, regionprops

    def per_chunk(gray):
        quantised = (gray.astype(np.uint16) * levels // 256).astype(np.uint8)
        texture = np.empty((len(gray), len(GLCM_PROPS)))
        for i, q in enumerate(quantised):
            glcm = graycomatrix(q, distances, angles, levels=levels, symmetric=True, normed=True)
            texture[i] = [graycoprops(glcm, prop).mean() for prop in GLCM_PROPS]
        shape = [_shape_stats(im, threshold_otsu, label, regionprops) for im in gray]
        return np.concatenate([_intensity_stats(gray), texture, np.asarray(shape)], axis=1)

    return _apply(arr, chunk_size, per_chunk)


def _check_sequence(values, name: str, integer: bool) -> list:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty sequence, got {values!r}")
    if integer:
        return [_check_int(v, name, 1) for v in values]
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers, got {values!r}") from None
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} must be finite, got {values!r}")
    return out


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
