"""HCFeats: seventeen hand-crafted image features (intensity statistics, GLCM texture,
foreground shape) for the small-datasets study; see :func:`hcfeats_features`.

Importing this module loads only numpy; scikit-image is imported on first use.
"""

from __future__ import annotations

import warnings
from math import pi

import numpy as np

from cnnpractice.smalldata.imagechunks import apply_chunked, check_images, check_int, check_sequence

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
    distances = check_sequence(glcm_distances, "glcm_distances", integer=True)
    angles = check_sequence(glcm_angles, "glcm_angles", integer=False)
    levels = check_int(levels, "levels", 2, 256)
    arr = check_images(images)
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

    return apply_chunked(arr, chunk_size, per_chunk)
