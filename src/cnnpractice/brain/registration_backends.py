"""The two registration back ends behind :func:`cnnpractice.brain.registration.register_affine`
(conventions there): SimpleITK (images handed over in LPS, the result flipped back to RAS)
and dipy. Both return ``(T, final metric value, iterations)``."""

from __future__ import annotations

import numpy as np

_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def check_affine(matrix, name: str) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise ValueError(f"{name} must be a finite (4, 4) matrix, got shape {matrix.shape}")
    return matrix


def to_sitk(data: np.ndarray, affine: np.ndarray):
    """A SimpleITK image of ``data`` (X, Y, Z) with the LPS geometry of the RAS ``affine``.

    Raises ValueError for a sheared affine (ITK directions must be orthonormal).
    """
    import SimpleITK as sitk

    lps = _RAS_TO_LPS @ check_affine(affine, "affine")
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    direction = lps[:3, :3] / spacing
    if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
        raise ValueError("affine has shear; SimpleITK images need orthonormal directions")
    # GetImageFromArray reads numpy axes as (z, y, x): hand it the transposed volume.
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.asarray(data).transpose(2, 1, 0)))
    image.SetSpacing(tuple(float(s) for s in spacing))
    image.SetOrigin(tuple(float(o) for o in lps[:3, 3]))
    image.SetDirection(tuple(float(d) for d in direction.ravel()))
    return image


def sitk_to_world(transform) -> np.ndarray:
    """The RAS (4, 4) world matrix of a SimpleITK ``AffineTransform`` (LPS, about a centre).

    ITK's affine is ``p' = M (p - c) + c + t`` in LPS; in RAS it is ``F T_lps F`` with
    ``F = diag(-1, -1, 1, 1)``.
    """
    linear = np.asarray(transform.GetMatrix(), dtype=np.float64).reshape(3, 3)
    centre = np.asarray(transform.GetCenter(), dtype=np.float64)
    lps = np.eye(4)
    lps[:3, :3] = linear
    lps[:3, 3] = np.asarray(transform.GetTranslation()) + centre - linear @ centre
    return _RAS_TO_LPS @ lps @ _RAS_TO_LPS


def register_sitk(
    moving, moving_affine, fixed, fixed_affine, fixed_mask, iterations, sampling, shrink, sigmas, seed, threads, metric
):
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    fixed_img = to_sitk(fixed, fixed_affine)
    moving_img = to_sitk(moving, moving_affine)
    transform = sitk.AffineTransform(
        sitk.CenteredTransformInitializer(
            fixed_img, moving_img, sitk.AffineTransform(3), sitk.CenteredTransformInitializerFilter.MOMENTS
        )
    )

    reg = sitk.ImageRegistrationMethod()
    reg.SetNumberOfThreads(threads)
    if metric == "mattes":
        reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    else:
        reg.SetMetricAsCorrelation()
    if sampling < 1:
        reg.SetMetricSamplingStrategy(reg.RANDOM)
        # ITK reads seed 0 as "seed from the wall clock": shift ours by one.
        reg.SetMetricSamplingPercentage(float(sampling), int(seed) % (2**31 - 1) + 1)
    else:
        reg.SetMetricSamplingStrategy(reg.NONE)
    if fixed_mask is not None:
        reg.SetMetricFixedMask(to_sitk(fixed_mask.astype(np.uint8), fixed_affine))
    reg.SetInterpolator(sitk.sitkLinear)
    # Regular-step gradient descent: plain gradient descent stopped 5 mm short of the answer
    # (its convergence window fired after ~20 iterations), L-BFGS-B was as accurate but ~2x
    # slower (measured on the 2 mm template, see bench/brain_registration.py).
    reg.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0,
        minStep=1e-3,
        numberOfIterations=iterations,
        relaxationFactor=0.5,
        gradientMagnitudeTolerance=1e-4,
        estimateLearningRate=reg.Once,
    )
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel(list(shrink))
    reg.SetSmoothingSigmasPerLevel(list(sigmas))
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    reg.SetInitialTransform(transform, inPlace=True)
    count = [0]
    reg.AddCommand(sitk.sitkIterationEvent, lambda: count.__setitem__(0, count[0] + 1))
    reg.Execute(fixed_img, moving_img)
    return sitk_to_world(transform), reg.GetMetricValue(), count[0]


def register_dipy(moving, moving_affine, fixed, fixed_affine, fixed_mask, iterations, sampling, shrink, sigmas):
    from dipy.align.imaffine import AffineRegistration, MutualInformationMetric, transform_centers_of_mass
    from dipy.align.transforms import AffineTransform3D, RigidTransform3D, TranslationTransform3D

    dense = sampling >= 1
    metric = MutualInformationMetric(nbins=32, sampling_proportion=None if dense else sampling)
    count = [0]
    evaluate = metric.distance_and_gradient

    def counted(params):
        count[0] += 1
        return evaluate(params)

    metric.distance_and_gradient = counted
    reg = AffineRegistration(
        metric=metric, level_iters=[iterations] * len(shrink), sigmas=list(sigmas), factors=list(shrink), verbosity=0
    )
    mask = fixed_mask.astype(np.int32) if (fixed_mask is not None and dense) else None
    start = transform_centers_of_mass(fixed, fixed_affine, moving, moving_affine).affine
    for stage in (TranslationTransform3D(), RigidTransform3D(), AffineTransform3D()):
        amap, _, value = reg.optimize(
            fixed,
            moving,
            stage,
            None,
            static_grid2world=fixed_affine,
            moving_grid2world=moving_affine,
            starting_affine=start,
            ret_metric=True,
            static_mask=mask,
        )
        start = amap.affine
    return np.asarray(start, dtype=np.float64), value, count[0]
