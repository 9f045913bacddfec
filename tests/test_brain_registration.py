"""Tests of cnnpractice.brain.registration on nilearn's MNI152 template brought to 4 mm."""

import numpy as np
import pytest

from cnnpractice.brain import registration as reg
from cnnpractice.brain import registration_backends as backends

VOXEL_MM = 4.0


@pytest.fixture(scope="module")
def template():
    """(data, affine, mask) of the MNI152 template and brain mask resampled to 4 mm."""
    from nilearn.datasets import load_mni152_brain_mask, load_mni152_template

    img = load_mni152_template(resolution=2)
    mask_img = load_mni152_brain_mask(resolution=2)
    affine = np.diag([VOXEL_MM, VOXEL_MM, VOXEL_MM, 1.0])
    affine[:3, 3] = img.affine[:3, 3]
    shape = tuple(int(s) // 2 for s in img.shape)
    data = reg.resample(img.get_fdata(), img.affine, np.eye(4), shape, affine)
    mask = reg.resample(mask_img.get_fdata(), mask_img.affine, np.eye(4), shape, affine) > 0.5
    return data, affine, mask


def brain_centre(affine, mask):
    return (affine @ np.r_[np.argwhere(mask).mean(axis=0), 1.0])[:3]


def translation(shift):
    out = np.eye(4)
    out[:3, 3] = shift
    return out


# ------------------------------------------------------------------------------ resample


@pytest.mark.parametrize("order", [0, 1, 3])
def test_resample_identity_returns_input(order):
    data = np.random.default_rng(0).random((6, 7, 5)).astype(np.float32)
    affine = np.array([[-2.0, 0, 0, 10], [0, 3, 0, -4], [0, 0, 1.5, 2], [0, 0, 0, 1]])
    out = reg.resample(data, affine, np.eye(4), data.shape, affine, order=order)
    assert out.dtype == np.float32 and out.shape == data.shape
    np.testing.assert_allclose(out, data, atol=1e-5)


@pytest.mark.parametrize(
    "affine", [np.diag([1.0, 1.0, 1.0, 1.0]), np.array([[-2.0, 0, 0, 10], [0, 3, 0, -4], [0, 0, 1.5, 2], [0, 0, 0, 1]])]
)
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_resample_translation_by_one_voxel_shifts_by_one_voxel(affine, axis):
    data = np.random.default_rng(1).random((6, 7, 5)).astype(np.float32)
    # Sampling at world points moved by one voxel step along `axis` reads the next voxel.
    out = reg.resample(data, affine, translation(affine[:3, axis]), data.shape, affine, cval=-1)
    src = [slice(None)] * 3
    dst = [slice(None)] * 3
    src[axis], dst[axis] = slice(1, None), slice(None, -1)
    np.testing.assert_allclose(out[tuple(dst)], data[tuple(src)], atol=1e-6)
    last = [slice(None)] * 3
    last[axis] = -1
    assert np.all(out[tuple(last)] == -1)  # outside the field of view -> cval


# ------------------------------------------------------------------------------ measures


@pytest.mark.parametrize(
    "a, b, mask, expected",
    [
        ([1, 2, 3, 4], [3, 5, 7, 9], None, 1.0),  # b = 2a + 1
        ([1, 2, 3, 4], [4, 3, 2, 1], None, -1.0),  # inverted
        ([1, 2, 3, 4], [1, 2, 3, -50], [1, 1, 1, 0], 1.0),  # outlier outside the mask
        ([1, 2, 3, 4], [2, 1, 4, 3], None, 0.6),  # hand-computed
        ([1, 2, 3, 4], [5, 5, 5, 5], None, 0.0),  # constant -> 0
    ],
)
def test_similarity_hand_made(a, b, mask, expected):
    a = np.asarray(a, float).reshape(2, 2, 1)
    b = np.asarray(b, float).reshape(2, 2, 1)
    mask = None if mask is None else np.asarray(mask, bool).reshape(2, 2, 1)
    assert reg.similarity(a, b, mask) == pytest.approx(expected)


@pytest.mark.parametrize(
    "b_shape, mask, match",
    [
        ((3, 3), None, "differ in shape"),
        ((2, 2), np.ones((3, 3), bool), "mask shape"),
        ((2, 2), np.zeros((2, 2), bool), "no voxels"),
    ],
)
def test_similarity_bad_input(b_shape, mask, match):
    with pytest.raises(ValueError, match=match):
        reg.similarity(np.ones((2, 2)), np.ones(b_shape), mask)


def test_displacement_error_of_a_translation_is_its_length():
    mask = np.zeros((5, 5, 5), bool)
    mask[1:4, 1:4, 1:4] = True
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    assert reg.displacement_error_mm(translation([3, 0, 4]), np.eye(4), affine, mask) == pytest.approx(5.0)
    assert reg.displacement_error_mm(np.eye(4), np.eye(4), affine, mask) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rotation_deg": 10, "translation_mm": 10, "scale": 0.1, "centre_mm": (0, -18, 18)},
        {"rotation_deg": 0, "translation_mm": 0, "scale": 0.0},
    ],
)
def test_random_affine_ranges(kwargs):
    rng = np.random.default_rng(3)
    A = reg.random_affine(rng, **kwargs)
    s = kwargs["scale"]
    assert (1 - s) ** 3 - 1e-9 <= np.linalg.det(A[:3, :3]) <= (1 + s) ** 3 + 1e-9
    centre = np.r_[kwargs.get("centre_mm", (0, 0, 0)), 1.0]
    assert np.linalg.norm((A @ centre - centre)[:3]) <= np.sqrt(3) * kwargs["translation_mm"] + 1e-9
    np.testing.assert_array_equal(A, reg.random_affine(np.random.default_rng(3), **kwargs))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rotation_deg": -1, "translation_mm": 0, "scale": 0}, "rotation_deg"),
        ({"rotation_deg": 0, "translation_mm": np.nan, "scale": 0}, "translation_mm"),
        ({"rotation_deg": 0, "translation_mm": 0, "scale": 1.0}, "scale"),
        ({"rotation_deg": 0, "translation_mm": 0, "scale": 0, "centre_mm": (0, 0)}, "centre_mm"),
    ],
)
def test_random_affine_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        reg.random_affine(np.random.default_rng(0), **kwargs)


# ------------------------------------------------------------------------------ SimpleITK geometry


@pytest.mark.parametrize(
    "affine",
    [
        np.diag([2.0, 2.0, 2.0, 1.0]),
        np.array([[-3.0, 0, 0, 60], [0, 2, 0, -70], [0, 0, 2.5, -40], [0, 0, 0, 1]]),
        np.array([[0, -2.0, 0, 60], [2.0, 0, 0, -70], [0, 0, 2, -40], [0, 0, 0, 1]]),  # axes swapped
    ],
)
def test_sitk_geometry_and_transform_conversion(template, affine):
    """ITK resampling with a converted transform equals ours: LPS <-> RAS is right."""
    import SimpleITK as sitk

    data, tpl_affine, mask = template
    moving = reg.resample(data, tpl_affine, np.eye(4), (40, 48, 40), affine)
    image = backends.to_sitk(moving, affine)
    index = (3, 4, 5)
    np.testing.assert_allclose(
        image.TransformIndexToPhysicalPoint(index), (np.diag([-1, -1, 1, 1]) @ affine @ np.r_[index, 1])[:3]
    )
    A = reg.random_affine(
        np.random.default_rng(5), rotation_deg=10, translation_mm=10, scale=0.1, centre_mm=(0, -18, 18)
    )
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    lps = flip @ A @ flip
    transform = sitk.AffineTransform(lps[:3, :3].ravel().tolist(), lps[:3, 3].tolist())
    np.testing.assert_allclose(backends.sitk_to_world(transform), A, atol=1e-12)
    fixed = backends.to_sitk(data, tpl_affine)
    theirs = sitk.GetArrayFromImage(sitk.Resample(image, fixed, transform, sitk.sitkLinear, 0.0)).transpose(2, 1, 0)
    ours = reg.resample(moving, affine, A, data.shape, tpl_affine)
    inner = mask & (ours > 0) & (theirs > 0)  # away from the field-of-view edge
    np.testing.assert_allclose(theirs[inner], ours[inner], atol=1e-4)


def test_to_sitk_rejects_shear():
    affine = np.eye(4)
    affine[0, 1] = 0.5
    with pytest.raises(ValueError, match="shear"):
        backends.to_sitk(np.zeros((4, 4, 4), np.float32), affine)


# ------------------------------------------------------------------------------ registration


def test_identity_registration_gives_identity(template):
    data, affine, mask = template
    result = reg.register_affine(data, affine, data, affine)
    assert result.method == "simpleitk" and result.iterations > 0
    assert result.aligned.dtype == np.float32 and result.aligned.shape == data.shape
    np.testing.assert_allclose(result.matrix, np.eye(4), atol=0.02)
    assert reg.displacement_error_mm(result.matrix, np.eye(4), affine, mask) < 0.25 * VOXEL_MM
    assert reg.similarity(result.aligned, data, mask) > 0.99


@pytest.mark.parametrize(
    "method, moving_grid",
    [
        ("simpleitk", "template"),
        ("simpleitk", "flipped-3mm"),  # moving image stored on another grid (x flipped)
        ("dipy", "template"),
    ],
)
def test_registration_recovers_known_affine(template, method, moving_grid):
    data, affine, mask = template
    A = reg.random_affine(
        np.random.default_rng(11), rotation_deg=10, translation_mm=10, scale=0.1, centre_mm=brain_centre(affine, mask)
    )
    if moving_grid == "template":
        moving_affine, shape = affine, data.shape
    else:
        moving_affine = np.array([[-3.0, 0, 0, 100], [0, 3, 0, -130], [0, 0, 3, -75], [0, 0, 0, 1]])
        shape = (68, 80, 66)
    # subject[v] = template(inv(A_tpl) @ A @ A_subj @ v): registration should find inv(A).
    moving = reg.resample(data, affine, A, shape, moving_affine)
    truth = np.linalg.inv(A)
    before = reg.displacement_error_mm(np.eye(4), truth, affine, mask)
    result = reg.register_affine(
        moving, moving_affine, data, affine, method=method, fixed_mask=mask if method == "simpleitk" else None
    )
    error = reg.displacement_error_mm(result.matrix, truth, affine, mask)
    assert before > 5.0  # the case is not trivially aligned
    assert error < 0.5 * VOXEL_MM, f"{method}: {error:.2f} mm (was {before:.2f} mm)"
    assert reg.similarity(result.aligned, data, mask) > reg.similarity(
        reg.resample(moving, moving_affine, np.eye(4), data.shape, affine), data, mask
    )


def test_default_method_is_deterministic(template):
    data, affine, mask = template
    A = reg.random_affine(
        np.random.default_rng(2), rotation_deg=10, translation_mm=10, scale=0.1, centre_mm=brain_centre(affine, mask)
    )
    moving = reg.resample(data, affine, A, data.shape, affine)
    first = reg.register_affine(moving, affine, data, affine, seed=3, iterations=30)
    second = reg.register_affine(moving, affine, data, affine, seed=3, iterations=30)
    np.testing.assert_array_equal(first.matrix, second.matrix)
    np.testing.assert_array_equal(first.aligned, second.aligned)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "ants"}, r"unknown registration method 'ants'.*simpleitk.*dipy"),
        ({"metric": "mse"}, r"unknown metric 'mse'.*mattes"),
        ({"fixed_mask": np.ones((3, 3, 3), bool)}, r"fixed_mask shape \(3, 3, 3\)"),
        ({"fixed_mask": np.zeros((8, 8, 8), bool)}, "fixed_mask selects no voxels"),
        ({"moving": np.zeros((8, 8))}, r"moving must be a 3D"),
        ({"fixed_affine": np.eye(3)}, "fixed_affine must be a finite"),
        ({"sampling": 0.0}, "sampling"),
        ({"iterations": 0}, "iterations"),
        ({"shrink": ()}, "shrink"),
        ({"threads": 0}, "threads"),
    ],
)
def test_register_affine_bad_input(kwargs, match):
    args = {
        "moving": np.zeros((8, 8, 8)),
        "moving_affine": np.eye(4),
        "fixed": np.zeros((8, 8, 8)),
        "fixed_affine": np.eye(4),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        reg.register_affine(
            args.pop("moving"), args.pop("moving_affine"), args.pop("fixed"), args.pop("fixed_affine"), **args
        )
