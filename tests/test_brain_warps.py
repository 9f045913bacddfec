"""Diffeomorphic warps of the synthetic cohort: invertibility, Jacobian sign, calibrated atrophy."""

import numpy as np
import pytest
from scipy import ndimage

from cnnpractice.brain import warps


def sphere(shape=(36, 36, 36), radius=10.0, centre=None):
    grid = np.indices(shape).astype(np.float32)
    centre = (np.array(shape) - 1) / 2 if centre is None else np.asarray(centre, dtype=np.float32)
    return np.sqrt(((grid - centre[:, None, None, None]) ** 2).sum(0)) <= radius


def random_field(shape=(24, 26, 22), amplitude=3.0, spacing=6.0, seed=0):
    return warps.random_velocity(shape, np.random.default_rng(seed), spacing=spacing, amplitude=amplitude)[0]


def test_exp_of_minus_v_inverts_exp_of_v():
    """Displacements up to ~5 voxels (Jacobians 0.3-3.3) come back within a fraction of a voxel."""
    v = random_field(amplitude=2.0, spacing=8.0)
    forward, backward = warps.exp_velocity(v), warps.exp_velocity(-v)
    inner = (slice(None),) + tuple(slice(5, s - 5) for s in v.shape[1:])  # away from the clamped edges
    for round_trip in (warps.compose(forward, backward), warps.compose(backward, forward)):
        error = np.sqrt((round_trip[inner] ** 2).sum(0))
        assert error.max() < 0.25 and error.mean() < 0.08
    assert np.sqrt((forward[inner] ** 2).sum(0)).max() > 3.0


def test_exponential_is_a_diffeomorphism_where_the_raw_field_folds():
    """The same velocity used directly as a displacement folds space (det J < 0 somewhere);
    its exponential never does."""
    v = random_field(amplitude=2.0, spacing=6.0, seed=2)
    assert warps.jacobian_determinant(v).min() < -0.5
    jac = warps.jacobian_determinant(warps.exp_velocity(v))
    assert jac.min() > 0 and jac.max() > 3 and jac.min() < 0.3


@pytest.mark.parametrize("shape,u,expected", [((5, 6, 7), None, 1.0), ((5, 6, 7), "scale", 1.1**3)])
def test_jacobian_determinant_of_known_maps(shape, u, expected):
    if u is None:
        field = np.zeros((3, *shape), np.float32)
    else:  # x -> 1.1 x
        field = 0.1 * warps.identity(shape)
    assert warps.jacobian_determinant(field) == pytest.approx(np.full(shape, expected), rel=1e-5)


@pytest.mark.parametrize("target", [0.75, 0.9, 1.3])
def test_atrophy_field_gives_the_configured_volume(target):
    """A region's volume after its calibrated field, measured on the warped label map
    (nearest neighbour: whole voxels) and by the trilinear measure the calibration uses."""
    region = sphere()
    ind = region.astype(np.float32)
    g = warps.region_field(ind, sigma=2.0)
    k = warps.rate_for(target, warps.calibrate(ind, g, k_max=3.0))
    pullback = warps.exp_velocity(-k * g)
    assert warps.volume_ratio(ind, pullback) == pytest.approx(target, abs=0.01)
    # the label map, drawn 4x finer than the field's grid so that a sub-voxel shrinkage shows
    # (coarse voxel i is fine voxel 4i)
    fine = sphere(tuple(4 * s for s in region.shape), 40.0, centre=4 * (np.array(region.shape) - 1) / 2)
    labels = warps.warp_image(fine.astype(np.float32), warps.upsample(pullback, fine.shape, 4), order=0)
    assert labels.sum() / fine.sum() == pytest.approx(target, abs=0.015)
    # contraction (k > 0) has a forward Jacobian below 1 inside the region, expansion above
    jac = warps.jacobian_determinant(warps.exp_velocity(k * g))
    assert (jac[region].mean() < 1) == (target < 1)
    assert jac.min() > 0


def test_rate_outside_the_calibrated_range_is_an_error():
    ind = sphere((20, 20, 20), 5).astype(np.float32)
    table = warps.calibrate(ind, warps.region_field(ind, 1.5), k_max=1.0, points=5)
    with pytest.raises(ValueError, match="outside the calibrated range"):
        warps.rate_for(0.01, table)


def test_calibration_refuses_a_non_monotonic_range():
    ind = sphere((20, 20, 20), 4).astype(np.float32)
    with pytest.raises(ValueError, match="not decreasing"):
        warps.calibrate(ind, warps.region_field(ind, 1.0), k_max=60.0, points=5)


def test_separable_upsampling_matches_map_coordinates():
    rng = np.random.default_rng(1)
    coarse = rng.standard_normal((5, 6, 4))
    shape = (17, 21, 13)
    axes = [np.linspace(0, c - 1, s) for c, s in zip(coarse.shape, shape)]
    coords = np.stack(np.meshgrid(*axes, indexing="ij"))
    expected = ndimage.map_coordinates(coarse, coords, order=3, mode="nearest")
    assert np.allclose(warps.spline_upsample(coarse, shape), expected, atol=1e-10)
    u = rng.standard_normal((3, 9, 10, 8)).astype(np.float32)
    fine = (17, 19, 16)
    grid = warps.identity(fine) / 2
    expected = np.stack([ndimage.map_coordinates(c, grid, order=1, mode="nearest") for c in u]) * 2
    assert np.allclose(warps.upsample(u, fine, 2), expected, atol=1e-5)


def test_random_velocity_has_the_requested_rms_and_rebuilds_from_its_controls():
    rng = np.random.default_rng(7)
    mask = sphere((30, 32, 28), 11)
    v, control = warps.random_velocity(mask.shape, rng, spacing=8.0, amplitude=2.5, mask=mask)
    assert np.sqrt((v[:, mask] ** 2).sum(0).mean()) == pytest.approx(2.5, rel=1e-4)
    assert np.allclose(warps.velocity_from_control(control, mask.shape), v, atol=1e-5)


def test_bounding_box_grows_and_clips():
    mask = np.zeros((10, 10, 10), bool)
    mask[2:4, 5, 8] = True
    assert warps.bounding_box(mask, 3) == (slice(0, 7), slice(2, 9), slice(5, 10))
    with pytest.raises(ValueError, match="empty"):
        warps.bounding_box(np.zeros((3, 3, 3), bool), 1)
