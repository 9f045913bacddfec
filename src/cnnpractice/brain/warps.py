"""Smooth diffeomorphic warps on a voxel grid: anatomy that differs, atrophy as tissue loss.

Conventions (the synthetic cohort, :mod:`.synth`, and the alignment truth use them):

* A displacement field ``u`` is a float32 array (3, X, Y, Z) in **voxel** units on a grid of
  shape (X, Y, Z); it stands for the map ``phi(x) = x + u(x)``.
* Images are warped by *pulling back*: ``warped(x) = image(phi(x))`` (:func:`warp_image`). A
  pull-back ``phi`` makes a structure *smaller* in the warped image where ``phi`` *expands*.
* Maps are the exponentials of stationary velocity fields ``v`` (:func:`exp_velocity`,
  scaling and squaring): ``exp(v)`` is a diffeomorphism when ``v`` is smooth, and its inverse
  is ``exp(-v)``. A structure that should shrink by the forward map ``F = exp(v)`` (Jacobian
  determinant ``det DF < 1`` inside it) is drawn with the pull-back ``exp(-v)``.
* :func:`region_field` gives the unit velocity ``g = grad(G_sigma * 1_R)`` of a region R:
  it points towards the region's core, so ``F = exp(k g)`` with ``k > 0`` contracts R
  (``div g = Laplacian(G_sigma * 1_R) < 0`` inside, > 0 in a shell outside) and ``k < 0``
  expands it. :func:`calibrate` finds the ``k`` that gives R a wanted volume ratio.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage


def identity(shape: Sequence[int]) -> np.ndarray:
    """(3, X, Y, Z) float32 voxel coordinates of a grid (``np.indices``)."""
    return np.indices(tuple(int(s) for s in shape), dtype=np.float32)


def _check_field(u: np.ndarray, name: str = "u") -> np.ndarray:
    u = np.asarray(u, dtype=np.float32)
    if u.ndim != 4 or u.shape[0] != 3:
        raise ValueError(f"{name} must be a (3, X, Y, Z) displacement field, got shape {u.shape}")
    return u


def sample(image: np.ndarray, coords: np.ndarray, order: int = 1) -> np.ndarray:
    """``image`` (X, Y, Z) at voxel coordinates ``coords`` (3, ...): spline of ``order``,
    edge values repeated outside the grid (a displacement field is continued, not zeroed)."""
    return ndimage.map_coordinates(np.asarray(image, dtype=np.float32), coords, order=order, mode="nearest")


def warp_image(image: np.ndarray, u: np.ndarray, order: int = 1, cval: float = 0.0) -> np.ndarray:
    """``image(x + u(x))`` on ``u``'s grid (pull-back); ``cval`` outside ``image``.

    Shapes: image (X, Y, Z), u (3, X', Y', Z') -> (X', Y', Z') float32.
    """
    u = _check_field(u)
    coords = identity(u.shape[1:]) + u
    return ndimage.map_coordinates(
        np.asarray(image, dtype=np.float32), coords, order=order, mode="constant", cval=cval, output=np.float32
    )


def compose(u_outer: np.ndarray, u_inner: np.ndarray) -> np.ndarray:
    """The displacement of ``phi_outer(phi_inner(x))``: ``u_inner(x) + u_outer(x + u_inner(x))``.

    As pull-backs, ``warp_image(I, compose(a, b)) == warp_image(warp_image(I, a), b)`` up to
    interpolation: the image is first warped by ``a``, then by ``b``.
    """
    u_outer, u_inner = _check_field(u_outer, "u_outer"), _check_field(u_inner, "u_inner")
    if u_outer.shape != u_inner.shape:
        raise ValueError(f"compose: fields of shapes {u_outer.shape} and {u_inner.shape}")
    coords = identity(u_inner.shape[1:]) + u_inner
    return u_inner + np.stack([sample(c, coords) for c in u_outer])


def exp_velocity(v: np.ndarray, steps: int | None = None) -> np.ndarray:
    """Displacement of ``exp(v)``, the flow of the stationary velocity ``v`` at time 1.

    Scaling and squaring (Arsigny et al. 2006): ``u = v / 2**N``, then ``N`` times
    ``u <- compose(u, u)``. ``steps`` = N; by default the smallest N with ``max|v| / 2**N``
    at most 0.25 voxel, so that each small step is itself invertible.
    """
    v = _check_field(v, "v")
    if steps is None:
        peak = float(np.sqrt((v.astype(np.float64) ** 2).sum(0)).max(initial=0.0))
        steps = max(0, int(np.ceil(np.log2(max(peak / 0.25, 1.0)))))
    u = v / np.float32(2.0**steps)
    for _ in range(int(steps)):
        u = compose(u, u)
    return u


def jacobian_determinant(u: np.ndarray) -> np.ndarray:
    """``det(I + Du)`` at every voxel (central differences; one-sided at the edges).

    Shapes: u (3, X, Y, Z) -> (X, Y, Z) float32. Positive everywhere for a diffeomorphism;
    below 1 where the map ``x + u(x)`` contracts volume.
    """
    u = _check_field(u)
    grads = np.stack([np.stack(np.gradient(u[i]), 0) for i in range(3)], 0)  # (3 comps, 3 dirs, X, Y, Z)
    jac = grads + np.eye(3, dtype=np.float32)[:, :, None, None, None]
    return np.linalg.det(np.moveaxis(jac, (0, 1), (-2, -1))).astype(np.float32)


def random_velocity(
    shape: Sequence[int], rng: np.random.Generator, *, spacing: float, amplitude: float, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random velocity field: standard normal values on a coarse control grid of
    ``spacing`` voxels, cubic-interpolated to ``shape`` and scaled so that the RMS of its
    length over ``mask`` (everywhere if None) is ``amplitude`` voxels.

    Returns ``(v (3, X, Y, Z) float32, control (3, cx, cy, cz) float64)``: the control values
    (already scaled) rebuild the same field with :func:`velocity_from_control`.
    """
    if spacing <= 0 or amplitude < 0:
        raise ValueError(f"random_velocity: spacing must be > 0 and amplitude >= 0, got {spacing}, {amplitude}")
    coarse = tuple(max(2, int(np.ceil((s - 1) / spacing)) + 1) for s in shape)
    control = rng.standard_normal((3, *coarse))
    v = velocity_from_control(control, shape)
    region = np.ones(tuple(shape), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    rms = float(np.sqrt((v[:, region].astype(np.float64) ** 2).sum(0).mean()))
    factor = amplitude / rms if rms > 0 else 0.0
    return (v * np.float32(factor)).astype(np.float32), control * factor


def velocity_from_control(control: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Cubic interpolation of control values (3, cx, cy, cz) spanning the grid's corners to
    (3, X, Y, Z) float32 (the field :func:`random_velocity` draws)."""
    control = np.asarray(control, dtype=np.float64)
    return np.stack([spline_upsample(c, shape) for c in control]).astype(np.float32)


def spline_upsample(coarse: np.ndarray, shape: Sequence[int], order: int = 3) -> np.ndarray:
    """Spline interpolation of a coarse 3D grid whose corners span the output grid's corners.

    Separable, so it is done as three small matrix products (one 1D interpolation matrix per
    axis) instead of a 3D spline evaluation at every output voxel: the same numbers as
    ``map_coordinates`` at ``linspace(0, c - 1, s)`` along each axis (tensor-product splines
    and their prefilter are separable). Shapes: (cx, cy, cz) -> ``shape`` float64.
    """
    coarse = np.asarray(coarse, dtype=np.float64)
    mats = []
    for c, s in zip(coarse.shape, shape):
        points = np.linspace(0, c - 1, int(s))[None, :]
        mats.append(
            np.stack([ndimage.map_coordinates(np.eye(c)[j], points, order=order, mode="nearest") for j in range(c)], 1)
        )
    return np.einsum("ia,jb,kc,abc->ijk", *mats, coarse, optimize=True)


def upsample(u: np.ndarray, shape: Sequence[int], factor: int) -> np.ndarray:
    """A displacement field computed on a grid ``factor`` times coarser (coarse voxel ``i`` at
    fine voxel ``factor * i``), trilinearly interpolated to the fine grid ``shape`` (edge
    values repeated) and expressed in fine voxels. Separable: three small matrix products."""
    u = _check_field(u)
    mats = []
    for c, s in zip(u.shape[1:], shape):
        pos = np.clip(np.arange(int(s)) / float(factor), 0, c - 1)
        lo = np.minimum(np.floor(pos).astype(int), c - 2) if c > 1 else np.zeros(int(s), int)
        w = pos - lo
        m = np.zeros((int(s), c), dtype=np.float32)
        m[np.arange(int(s)), lo] = 1 - w
        if c > 1:
            m[np.arange(int(s)), lo + 1] += w
        mats.append(m)
    out = np.stack([np.einsum("ia,jb,kc,abc->ijk", *mats, comp, optimize=True) for comp in u])
    return (out * np.float32(factor)).astype(np.float32)


def downsample_mask(mask: np.ndarray, factor: int) -> np.ndarray:
    """The coarse grid's voxels (every ``factor``-th) where ``mask`` is set."""
    return np.asarray(mask, dtype=bool)[::factor, ::factor, ::factor]


def region_field(indicator: np.ndarray, sigma: float) -> np.ndarray:
    """Unit contraction velocity of a region: ``grad(G_sigma * 1_R)``, scaled so that its
    largest length is 1 voxel. Shapes: indicator (X, Y, Z) -> (3, X, Y, Z) float32."""
    smooth = ndimage.gaussian_filter(np.asarray(indicator, dtype=np.float32), sigma=max(float(sigma), 1e-3))
    g = np.stack(np.gradient(smooth), 0).astype(np.float32)
    peak = float(np.sqrt((g**2).sum(0)).max(initial=0.0))
    if peak == 0:
        raise ValueError("region_field: the region is empty or fills the whole grid")
    return g / np.float32(peak)


def volume_ratio(indicator: np.ndarray, u: np.ndarray, order: int = 1) -> float:
    """Volume of a region after the pull-back ``u`` over its volume before: the sum of the
    warped indicator (``order`` 1: trilinear, 0: the nearest-neighbour label map)."""
    ind = np.asarray(indicator, dtype=np.float32)
    before = float(ind.sum())
    if before == 0:
        raise ValueError("volume_ratio of an empty region")
    return float(warp_image(ind, u, order=order).sum(dtype=np.float64)) / before


def calibrate(indicator: np.ndarray, g: np.ndarray, k_max: float, points: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """How the region's volume ratio follows the rate ``k`` of the forward map ``exp(k g)``.

    Evaluates the ratio (trilinear measure) at ``points`` values of ``k`` from ``-k_max`` to
    ``k_max`` (the pull-back is ``exp(-k g)``) and returns ``(log ratios, ks)`` in increasing
    order of the ratio, the table :func:`rate_for` interpolates. The ratio decreases with
    ``k`` (``g`` contracts the region).
    """
    ks = np.linspace(-float(k_max), float(k_max), int(points))
    ratios = np.array([volume_ratio(indicator, exp_velocity(-k * g)) for k in ks])
    if not np.all(np.diff(ratios) < 0):
        raise ValueError(
            f"calibrate: the volume ratio is not decreasing in k over [-{k_max}, {k_max}] "
            f"({np.round(ratios, 3).tolist()}); use a smaller k_max"
        )
    return np.log(ratios[::-1]), ks[::-1].copy()


def rate_for(ratio: float, table: tuple[np.ndarray, np.ndarray]) -> float:
    """The ``k`` whose forward map ``exp(k g)`` gives the region ``ratio`` of its volume
    (interpolation of a :func:`calibrate` table in log ratio; an error outside its range)."""
    log_ratios, ks = table
    if not ratio > 0 or not log_ratios[0] <= np.log(ratio) <= log_ratios[-1]:
        raise ValueError(
            f"a volume ratio of {ratio:.3f} is outside the calibrated range "
            f"[{np.exp(log_ratios[0]):.3f}, {np.exp(log_ratios[-1]):.3f}] (smaller effects, or a larger smoothing_mm)"
        )
    return float(np.interp(np.log(ratio), log_ratios, ks))


def rate_slope(k: float, table: tuple[np.ndarray, np.ndarray]) -> float:
    """``d log(ratio) / dk`` of a :func:`calibrate` table at ``k`` (negative: a larger rate
    contracts more)."""
    log_ratios, ks = table
    order = np.argsort(ks)
    slope = np.gradient(log_ratios[order], ks[order])
    return float(np.interp(k, ks[order], slope))


def bounding_box(mask: np.ndarray, margin: int, shape: Sequence[int] | None = None) -> tuple[slice, ...]:
    """Slices of the box around ``mask``'s voxels grown by ``margin`` voxels (clipped to
    ``shape``, by default the mask's)."""
    where = np.argwhere(np.asarray(mask, dtype=bool))
    if where.size == 0:
        raise ValueError("bounding_box of an empty mask")
    shape = np.asarray(mask.shape if shape is None else shape)
    lo = np.maximum(where.min(0) - margin, 0)
    hi = np.minimum(where.max(0) + margin + 1, shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
