"""Brain models, differential models, dBMS and region ranking (cnnpractice.brain.interpret)."""

import csv
import json

import numpy as np
import pytest
import torch
import torch.nn as nn
from scipy import ndimage

from cnnpractice.brain.interpret import BrainModelAccumulator, dbms, differential_model, maps_to_volume, rank_regions
from cnnpractice.brain.interpret_run import interpret_model
from cnnpractice.brain.volumes import save_volume

SHAPE = (24, 28, 24)


def plane_of(volume, axis, position):
    return np.take(volume, position, axis=axis)


def slice_like_the_slicer(volume, axis, positions, size):
    """(P, S, S) planes at ``positions`` resized as the slicer does (zoom, order 1)."""
    planes = [plane_of(volume, axis, p) for p in positions]
    zoom = [size / s for s in planes[0].shape]
    return np.stack([ndimage.zoom(p, zoom, order=1) for p in planes])


# ---------------------------------------------------------------- dBMS


def _hand_case(value=2.0, n_on=5, nan_voxels=0, outside=0.0):
    """A 10-voxel mask in a (1, 4, 5, 3) volume; ``n_on`` mask voxels hold ``value``, the next
    ``nan_voxels`` are NaN, the other mask voxels 0 and the voxels outside ``outside``."""
    flat = np.full(60, outside)
    flat[:10] = 0.0
    flat[:n_on] = value
    flat[n_on : n_on + nan_voxels] = np.nan
    mask = np.zeros(60, bool)
    mask[:10] = True
    return flat.reshape(1, 4, 5, 3), mask.reshape(4, 5, 3)


@pytest.mark.parametrize(
    "value, n_on, nan_voxels, outside, scale, expected",
    [
        (2.0, 5, 0, 0.0, 1.0, 1.0),  # +2 on 5 of 10 mask voxels
        (-2.0, 5, 0, 0.0, 1.0, 1.0),  # sign does not matter
        (2.0, 5, 0, 0.0, 4.0, 0.25),  # the scale divides
        (2.0, 5, 5, 0.0, 1.0, 2.0),  # NaN voxels are ignored (5 finite voxels, all +2)
        (2.0, 5, 0, 100.0, 1.0, 1.0),  # voxels outside the mask do not count
        (0.0, 5, 0, 0.0, 0.0, 0.0),  # a dead filter (scale 0, no difference) scores 0
    ],
)
def test_dbms_hand_made(value, n_on, nan_voxels, outside, scale, expected):
    diff, mask = _hand_case(value, n_on, nan_voxels, outside)
    assert mask.sum() == 10
    assert dbms(diff, mask, np.array([scale])) == pytest.approx([expected])


def test_dbms_per_filter_and_all_nan():
    diff = np.zeros((3, 2, 2, 2))
    diff[0] = 1.0
    diff[1] = 3.0
    diff[2] = np.nan
    out = dbms(diff, np.ones((2, 2, 2), bool), np.array([1.0, 2.0, 1.0]))
    assert out[:2] == pytest.approx([1.0, 1.5])
    assert np.isnan(out[2])


def test_differential_model_is_class1_minus_class0():
    assert np.array_equal(differential_model(np.array([1.0, 2.0]), np.array([4.0, 1.0])), [3.0, -1.0])


# ---------------------------------------------------------------- accumulator


def test_accumulator_streaming_equals_class_means_at_once():
    rng = np.random.default_rng(0)
    n, f, s = 50, 3, 6
    maps = rng.random((n, f, s, s)).astype(np.float32)
    labels = rng.integers(0, 2, n)
    positions = rng.choice([3, 7, 9], n)
    acc = BrainModelAccumulator(2, f, np.array([9, 3, 7, 11]), (s, s))
    for start in range(0, n, 7):  # uneven batches
        part = slice(start, start + 7)
        acc.add(torch.from_numpy(maps[part]) if start % 2 else maps[part], labels[part], positions[part])
    means = acc.means()
    assert means.shape == (2, f, 4, s, s)
    assert list(acc.positions) == [3, 7, 9, 11]
    for c in (0, 1):
        for k, p in enumerate(acc.positions):
            sel = (labels == c) & (positions == p)
            assert acc.counts[c, k] == sel.sum()
            if p == 11:
                assert np.isnan(means[c, :, k]).all()  # never seen
            else:
                assert np.allclose(means[c, :, k], maps[sel].mean(0), atol=1e-6)
    # pooled within-class variance at one position
    k = 1
    sel = positions == 7
    resid = maps[sel] - np.stack([maps[sel & (labels == c)].mean(0) for c in (0, 1)])[labels[sel]]
    expected = (resid**2).sum(0) / (sel.sum() - 2)
    assert np.allclose(acc.pooled_variance()[:, k], expected, atol=1e-5)


@pytest.mark.parametrize(
    "labels, positions, message",
    [
        ([0, 1], [3, 4], r"positions \[4\] are not among"),
        ([0, 2], [3, 3], "labels must lie in 0..1"),
    ],
)
def test_accumulator_rejects_unknown_positions_and_labels(labels, positions, message):
    acc = BrainModelAccumulator(2, 1, np.array([3, 5]), (2, 2))
    with pytest.raises(ValueError, match=message):
        acc.add(np.zeros((2, 1, 2, 2)), np.array(labels), np.array(positions))


# ---------------------------------------------------------------- maps_to_volume


def smooth_volume(shape=SHAPE):
    grids = np.meshgrid(*[np.linspace(0, 1, s) for s in shape], indexing="ij")
    return (np.sin(2 * grids[0]) + np.cos(3 * grids[1]) * grids[2] + 2).astype(np.float32)


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("size", [16, 40])
def test_maps_to_volume_round_trip(axis, size):
    volume = smooth_volume()
    positions = np.arange(2, SHAPE[axis] - 2, 2)
    planes = slice_like_the_slicer(volume, axis, positions, size)  # (P, S, S)
    plane_shape = [s for i, s in enumerate(SHAPE) if i != axis]
    back = maps_to_volume(np.stack([planes, 2 * planes]), positions, axis, plane_shape, SHAPE)
    assert back.shape == (2, *SHAPE) and back.dtype == np.float32
    taken = np.take(back, positions, axis=axis + 1)
    assert np.allclose(taken[0], np.take(volume, positions, axis=axis), atol=0.02)
    assert np.allclose(taken[1], 2 * np.take(volume, positions, axis=axis), atol=0.04)
    others = np.setdiff1d(np.arange(SHAPE[axis]), positions)
    assert np.isnan(np.take(back, others, axis=axis + 1)).all()


def test_maps_to_volume_matches_scipy_zoom_exactly():
    """torch bilinear with align_corners=True is scipy.ndimage.zoom(order=1)."""
    maps = np.random.default_rng(1).random((1, 1, 8, 8)).astype(np.float32)
    back = maps_to_volume(maps, np.array([3]), 0, (28, 24), SHAPE)[0, 3]
    assert np.allclose(back, ndimage.zoom(maps[0, 0], (28 / 8, 24 / 8), order=1), atol=1e-5)


def test_maps_to_volume_rejects_a_wrong_plane_shape():
    with pytest.raises(ValueError, match="is not template_shape"):
        maps_to_volume(np.zeros((1, 1, 4, 4)), np.array([0]), 0, (24, 28), SHAPE)


# ---------------------------------------------------------------- regions


def test_rank_regions_hand_made():
    diff = np.zeros((4, 4, 4))
    atlas = np.zeros((4, 4, 4), np.int16)
    atlas[:2], atlas[2:] = 1, 2
    atlas[3, 3, 3] = 3  # a 1-voxel region, dropped by min_voxels
    diff[:2] = -1.0
    diff[2:] = 3.0
    diff[2, 0, 0] = np.nan
    rows = rank_regions(diff, atlas, {1: "left", 2: "right"}, scale=2.0, min_voxels=2)
    assert [(r["rank"], r["region"], r["n_voxels"]) for r in rows] == [(1, "right", 30), (2, "left", 32)]
    assert [r["dbms"] for r in rows] == pytest.approx([1.5, 0.5])


# ---------------------------------------------------------------- planted regions, end to end


class FixedNet(nn.Module):
    """Filter 0 = identity, filter 1 = dead (zero weights), filter 2 = 3x3 mean; then ReLU."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0, 1, 1] = 1.0
            self.conv.weight[2] = 1.0 / 9

    def first_layer(self, x):
        return torch.relu(self.conv(x))

    def forward(self, x):
        return self.first_layer(x).mean((1, 2, 3))


def write_cohort(tmp_path, planted=(2, 5), n_per_class=8, size=16, axis=0, seed=0):
    """Template dir + slices dir of a tiny cohort; class 1 darkened in the ``planted`` regions."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in SHAPE], indexing="ij"))
    centre = (np.array(SHAPE) - 1)[:, None, None, None] / 2
    radius = np.sqrt((((grid - centre) / (np.array(SHAPE)[:, None, None, None] * 0.45)) ** 2).sum(0))
    mask = radius < 1
    template = np.where(mask, 1.2 - 0.5 * radius, 0).astype(np.float32)
    atlas = np.zeros(SHAPE, np.int16)
    for label, (i, j) in enumerate([(i, j) for i in range(2) for j in range(3)], start=1):
        atlas[5 + 8 * i : 11 + 8 * i, 5 + 7 * j : 10 + 7 * j, 8:16] = label  # six 6x5x8 boxes
    tdir, sdir = tmp_path / "template", tmp_path / "slices"
    save_volume(tdir / "template.nii.gz", template, np.diag([2.0, 2.0, 2.0, 1.0]))
    save_volume(tdir / "mask.nii.gz", mask.astype(np.uint8), np.eye(4))
    save_volume(tdir / "atlas.nii.gz", atlas, np.eye(4))
    with open(tdir / "atlas_labels.csv", "w") as fh:
        fh.write("label,name\n" + "".join(f"{k},region {k}\n" for k in range(1, 7)))
    positions = np.arange(2, SHAPE[axis] - 2)
    labels = np.repeat([0, 1], n_per_class)
    xs, meta_pos, meta_subj = [], [], []
    for s, label in enumerate(labels):
        vol = template * (1 + 0.05 * rng.standard_normal(SHAPE))
        if label == 1:
            vol = np.where(np.isin(atlas, planted), 0.3 * vol, vol)
        planes = slice_like_the_slicer(vol, axis, positions, size)
        xs.append(np.clip(planes / 1.5 * 255, 0, 255).round().astype(np.uint8))
        meta_pos.append(positions)
        meta_subj.append(np.full(positions.size, s))
    sdir.mkdir()
    np.save(sdir / "x.npy", np.concatenate(xs)[:, None])
    subject_index = np.concatenate(meta_subj).astype(np.int32)
    np.savez(
        sdir / "meta.npz",
        subject_index=subject_index,
        position=np.concatenate(meta_pos).astype(np.int32),
        label=labels[subject_index].astype(np.int64),
        subjects=np.array([f"S{k:02d}" for k in range(labels.size)]),
        subject_label=labels.astype(np.int64),
        axis=np.array(axis),
        plane_shape=np.array([s for i, s in enumerate(SHAPE) if i != axis]),
        template_shape=np.array(SHAPE),
    )
    return tdir, sdir


@pytest.mark.parametrize("axis", [0, 2])
def test_planted_regions_rank_first(tmp_path, axis):
    tdir, sdir = write_cohort(tmp_path, axis=axis)
    out = tmp_path / "out"
    summary = interpret_model(
        checkpoint=None,
        slices_dir=sdir,
        template_dir=tdir,
        out_dir=out,
        mean=0.0,
        std=255.0,
        batch_size=10,
        net=FixedNet(),
        sagittal_cuts_mm=(6, 10, 14, 1000),
    )
    with open(out / "regions.csv") as fh:
        regions = list(csv.DictReader(fh))
    assert {regions[0]["region"], regions[1]["region"]} == {"region 2", "region 5"}
    assert float(regions[1]["dbms"]) > 2 * float(regions[2]["dbms"])
    assert summary["filter_a"] in (0, 2) and summary["dbms"][1] == 0.0  # the dead filter scores 0
    assert summary["n_slices_per_class"] == [8 * (SHAPE[axis] - 4)] * 2
    assert [c["index"] for c in summary["sagittal_cuts"]] == [3, 5, 7]  # 1000 mm is outside
    assert json.loads((out / "summary.json").read_text())["filter_a"] == summary["filter_a"]
    with open(out / "dbms.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["is_filter_a"]) for r in rows] == [int(f == summary["filter_a"]) for f in range(3)]
    import nibabel as nib

    for name in ("brain_model_class0", "brain_model_class1", "differential"):
        assert nib.load(out / f"{name}.nii.gz").shape == (*SHAPE, 3)
    for name in ("filters.png", "filter_a_cuts.png"):
        assert (out / name).stat().st_size > 1000
    # the untrained baseline: the same architecture re-initialised, ranked the same way
    with open(out / "regions_untrained.csv") as fh:
        base = list(csv.DictReader(fh))
    assert {r["region"] for r in base} == {r["region"] for r in regions}
    assert summary["untrained"]["filter_a"] in range(3) and len(summary["untrained"]["dbms"]) == 3
    assert summary["untrained"]["top_regions"] == [r["region"] for r in base[:5]]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


def test_subject_subset_and_example_subjects(tmp_path):
    tdir, sdir = write_cohort(tmp_path, n_per_class=4)
    summary = interpret_model(
        checkpoint=None,
        slices_dir=sdir,
        template_dir=tdir,
        out_dir=tmp_path / "out",
        mean=0.0,
        std=255.0,
        net=FixedNet(),
        subjects=[0, 1, 5, 6, 7],
        example_subjects=(1, 6),
    )
    assert summary["n_subjects_per_class"] == [2, 3]
    assert summary["example_subjects"] == ["S01", "S06"]
    with pytest.raises(ValueError, match="both classes 0 and 1"):
        interpret_model(
            checkpoint=None,
            slices_dir=sdir,
            template_dir=tdir,
            out_dir=tmp_path / "o2",
            mean=0.0,
            std=255.0,
            net=FixedNet(),
            subjects=[0, 1],
        )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"label": lambda m: 1 - m["label"]}, "slice labels disagree"),
        ({"template_shape": lambda m: m["template_shape"] + 1}, "slices were cut from a"),
    ],
)
def test_inconsistent_inputs_are_refused(tmp_path, change, message):
    tdir, sdir = write_cohort(tmp_path, n_per_class=2)
    meta = dict(np.load(sdir / "meta.npz"))
    meta.update({k: f(meta) for k, f in change.items()})
    np.savez(sdir / "meta.npz", **meta)
    with pytest.raises(ValueError, match=message):
        interpret_model(
            checkpoint=None,
            slices_dir=sdir,
            template_dir=tdir,
            out_dir=tmp_path / "out",
            mean=0.0,
            std=255.0,
            net=FixedNet(),
        )
