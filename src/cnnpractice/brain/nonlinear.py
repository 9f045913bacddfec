"""Nonlinear refinement of an affine alignment, and what an alignment does to the subject.

After the affine step (:mod:`.registration`) the subject is on the template grid but its
anatomy still differs in shape. :func:`refine` registers that affinely aligned image to the
template with a deformable transform and returns the pull-back displacement ``u`` (3, X, Y,
Z), template voxels: ``aligned(x + u(x)) ~ template(x)``. Two back ends (measured on the
synthetic cohort, ``bench/brain_nonlinear.py``; the README gives the numbers):

* ``"bspline"``: SimpleITK's B-spline transform (control points every ``mesh_mm``), Mattes
  mutual information on a random sample of the brain, L-BFGS-B, a two-level pyramid.
* ``"syn"``: dipy's symmetric diffeomorphic registration (SyN) with the local
  cross-correlation metric.

:func:`alignment_points` turns an affine ``T`` and an optional ``u`` into the world point of
the subject's image that every template voxel is taken from, ``P(x) = T(x + u(x))`` (one
resampling of the original image, no double interpolation), and :func:`point_error_mm`
compares two such maps (the residual misalignment against the known warps).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage

METHODS = ("bspline", "syn")


def refine(
    aligned: np.ndarray,
    fixed: np.ndarray,
    fixed_affine: np.ndarray,
    *,
    method: str,
    fixed_mask: np.ndarray | None = None,
    settings: Mapping[str, Any] | None = None,
    seed: int = 0,
    threads: int = 1,
) -> tuple[np.ndarray, float]:
    """Deformable registration of ``aligned`` to ``fixed`` (both (X, Y, Z) on the grid
    ``fixed_affine``, diagonal). Returns ``(u (3, X, Y, Z) float32 template voxels, seconds)``.

    ``settings`` (all optional): bspline -- ``mesh_mm`` (40), ``iterations`` (30 per level),
    ``sampling`` (0.1); syn -- ``iterations`` ([10, 5], coarse to fine; each level halves),
    ``radius`` (2, the cross-correlation window), ``sigma_diff`` (2.0, smoothing of updates).
    """
    if method not in METHODS:
        raise ValueError(f"brain.alignment.nonlinear.method must be one of {METHODS}, got {method!r}")
    settings = dict(settings or {})
    affine = np.asarray(fixed_affine, dtype=np.float64)
    if not np.allclose(affine[:3, :3], np.diag(np.diag(affine[:3, :3]))):
        raise ValueError("nonlinear refinement needs an axis-aligned template grid (diagonal affine)")
    t0 = time.perf_counter()
    if method == "bspline":
        d_world = _bspline(aligned, fixed, affine, fixed_mask, settings, seed, threads)
    else:
        d_world = _syn(aligned, fixed, affine, settings)
    u = d_world / np.diag(affine[:3, :3]).astype(np.float32)[:, None, None, None]
    return u.astype(np.float32), time.perf_counter() - t0


def _bspline(aligned, fixed, affine, fixed_mask, settings, seed, threads) -> np.ndarray:
    import SimpleITK as sitk

    from cnnpractice.brain.registration_backends import to_sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(int(threads))
    fixed_img, moving_img = to_sitk(fixed, affine), to_sitk(aligned, affine)
    extent = np.asarray(fixed.shape) * np.abs(np.diag(affine[:3, :3]))
    mesh = [max(1, int(round(e / float(settings.get("mesh_mm", 40.0))))) for e in extent]
    transform = sitk.BSplineTransformInitializer(fixed_img, mesh, 3)
    reg = sitk.ImageRegistrationMethod()
    reg.SetNumberOfThreads(int(threads))
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(float(settings.get("sampling", 0.1)), int(seed) % (2**31 - 1) + 1)
    if fixed_mask is not None:
        reg.SetMetricFixedMask(to_sitk(np.asarray(fixed_mask, dtype=np.uint8), affine))
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsLBFGSB(
        gradientConvergenceTolerance=1e-5,
        numberOfIterations=int(settings.get("iterations", 30)),
        maximumNumberOfCorrections=5,
        maximumNumberOfFunctionEvaluations=1000,
        costFunctionConvergenceFactor=1e7,
    )
    reg.SetShrinkFactorsPerLevel([2, 1])
    reg.SetSmoothingSigmasPerLevel([1.0, 0.0])
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    reg.SetInitialTransform(transform, inPlace=True)
    reg.Execute(fixed_img, moving_img)
    field = sitk.TransformToDisplacementField(
        transform,
        sitk.sitkVectorFloat64,
        fixed_img.GetSize(),
        fixed_img.GetOrigin(),
        fixed_img.GetSpacing(),
        fixed_img.GetDirection(),
    )
    d_lps = np.asarray(sitk.GetArrayFromImage(field), dtype=np.float32).transpose(3, 2, 1, 0)  # (3, X, Y, Z)
    return d_lps * np.array([-1, -1, 1], np.float32)[:, None, None, None]  # LPS -> RAS


def _syn(aligned, fixed, affine, settings) -> np.ndarray:
    from dipy.align.imwarp import SymmetricDiffeomorphicRegistration
    from dipy.align.metrics import CCMetric

    metric = CCMetric(3, sigma_diff=float(settings.get("sigma_diff", 2.0)), radius=int(settings.get("radius", 2)))
    sdr = SymmetricDiffeomorphicRegistration(metric, level_iters=list(settings.get("iterations", [10, 5])))
    mapping = sdr.optimize(
        np.asarray(fixed, dtype=np.float32),
        np.asarray(aligned, dtype=np.float32),
        static_grid2world=affine,
        moving_grid2world=affine,
    )
    # Where each template voxel samples the moving grid, read off by warping the grid's own
    # voxel coordinates (trilinear interpolation of a linear function is exact): this does not
    # depend on how dipy stores its fields internally.
    from cnnpractice.brain.warps import identity

    grid = identity(fixed.shape)
    moved = np.stack([mapping.transform(c, interpolation="linear") for c in grid]).astype(np.float32)
    return (moved - grid) * np.diag(affine[:3, :3]).astype(np.float32)[:, None, None, None]


def alignment_points(matrix: np.ndarray, fixed_affine: np.ndarray, shape, u: np.ndarray | None = None) -> np.ndarray:
    """``P(x) = T(x + u(x))`` for every template voxel ``x``: (X, Y, Z, 3) float32 world mm in
    the subject's image (``T`` (4, 4) the affine, ``u`` template voxels or None)."""
    from cnnpractice.brain.warps import identity

    vox = identity(shape)
    if u is not None:
        vox = vox + np.asarray(u, dtype=np.float32)
    full = np.asarray(matrix, dtype=np.float64) @ np.asarray(fixed_affine, dtype=np.float64)
    return (np.moveaxis(vox, 0, -1) @ full[:3, :3].T.astype(np.float32) + full[:3, 3].astype(np.float32)).astype(
        np.float32
    )


def resample_points(moving: np.ndarray, moving_affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``moving`` (X', Y', Z') sampled at world ``points`` (..., 3): trilinear, 0 outside."""
    inv = np.linalg.inv(np.asarray(moving_affine, dtype=np.float64))
    vox = points @ inv[:3, :3].T.astype(np.float32) + inv[:3, 3].astype(np.float32)
    return ndimage.map_coordinates(
        np.asarray(moving, dtype=np.float32),
        np.moveaxis(vox, -1, 0),
        order=1,
        mode="constant",
        cval=0.0,
        output=np.float32,
    )


def point_error_mm(points: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """Mean distance (mm) over ``mask``'s voxels between two point maps (X, Y, Z, 3)."""
    mask = np.asarray(mask, dtype=bool)
    return float(np.linalg.norm(points[mask] - truth[mask], axis=1).mean())
