"""Brain study data stages: volume reading errors, the template grid, the synthetic cohort,
slicing, and the QC table."""

import csv
import json

import nibabel as nib
import numpy as np
import pytest

from cnnpractice.brain.slices import extract_slices, load_slices, planes, slice_positions
from cnnpractice.brain.template import load_template, prepare_template, region_labels
from cnnpractice.brain.volumes import VolumeError, load_volume, save_volume


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("template")
    prepare_template(out, resolution=2, atlas="aal")
    return out


def brain_blob(shape=(40, 48, 40)):
    grid = np.indices(shape).astype(np.float32)
    centre = (np.array(shape) - 1)[:, None, None, None] / 2
    r = np.sqrt((((grid - centre) / (np.array(shape)[:, None, None, None] / 3)) ** 2).sum(axis=0))
    return np.where(r < 1, 1.0 - 0.5 * r, 0.0).astype(np.float32)


# --- reading volumes: clear errors naming the file ---------------------------------------


def test_load_volume_round_trip(tmp_path):
    data, affine = brain_blob(), np.diag([2.0, 2.0, 2.0, 1.0])
    save_volume(tmp_path / "a.nii.gz", data, affine)
    back, back_affine = load_volume(tmp_path / "a.nii.gz")
    assert np.array_equal(back, data) and np.allclose(back_affine, affine)
    assert not list(tmp_path.glob(".*tmp*"))


def test_truncated_nifti_is_named(tmp_path):
    path = tmp_path / "cut.nii"
    nib.save(nib.Nifti1Image(brain_blob(), np.eye(4)), str(path))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(VolumeError, match=r"cut\.nii: the image data cannot be read \(truncated"):
        load_volume(path)


def test_truncated_gzip_is_named(tmp_path):
    path = tmp_path / "cut.nii.gz"
    save_volume(path, brain_blob(), np.eye(4))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(VolumeError, match=r"cut\.nii\.gz"):
        load_volume(path)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: np.zeros((40, 48, 40), np.float32), "not a brain scan"),
        (lambda: np.full((40, 48, 40), 3.0, np.float32), "not a brain scan"),
        (lambda: brain_blob((40, 48, 4)), "too small for a brain volume"),
        (lambda: np.where(brain_blob() > 0, np.nan, 0.0).astype(np.float32), "NaN"),
        (lambda: np.random.default_rng(0).random((40, 48)).astype(np.float32), "expected a 3D volume"),
    ],
)
def test_non_brain_volumes_are_refused(tmp_path, make, match):
    path = tmp_path / "bad.nii.gz"
    save_volume(path, make(), np.eye(4))
    with pytest.raises(VolumeError, match=rf"bad\.nii\.gz: .*{match}"):
        load_volume(path)


@pytest.mark.parametrize(
    "srow_z, match",
    [
        ([0.0, 0.0, 0.0, 0.0], "affine is singular"),  # the z axis collapses onto a plane
        ([0.0, 0.0, 1e-12, 0.0], "affine is singular"),  # a voxel size of 1e-12 mm
        ([0.0, 0.0, float("nan"), 0.0], "affine has NaN or infinite"),
        ([0.0, float("inf"), 2.0, 0.0], "affine has NaN or infinite"),
    ],
)
def test_bad_affine_is_refused_naming_the_file(tmp_path, srow_z, match):
    """A header whose sform cannot place the voxels (written byte by byte: nibabel's writer
    would not make such a file) is refused before any registration."""
    path = tmp_path / "bad_affine.nii"
    nib.save(nib.Nifti1Image(brain_blob(), np.diag([2.0, 2.0, 2.0, 1.0])), str(path))
    raw = bytearray(path.read_bytes())
    assert int.from_bytes(raw[254:256], "little") > 0  # sform_code set: nibabel reads srow_*
    raw[312:328] = np.asarray(srow_z, "<f4").tobytes()  # srow_z, bytes 312-327 of the header
    path.write_bytes(bytes(raw))
    with pytest.raises(VolumeError, match=rf"bad_affine\.nii: the voxel-to-world {match}"):
        load_volume(path)
    good = tmp_path / "good.nii"
    nib.save(nib.Nifti1Image(brain_blob(), np.diag([2.0, 2.0, 2.0, 1.0])), str(good))
    assert load_volume(good)[1][2, 2] == 2.0  # the same file with its own affine loads


@pytest.mark.parametrize("content", [b"", b"not a nifti file at all" * 20])
def test_garbage_file_is_named(tmp_path, content):
    path = tmp_path / "junk.nii"
    path.write_bytes(content)
    with pytest.raises(VolumeError, match=r"junk\.nii: not a readable NIfTI/Analyze volume"):
        load_volume(path)


def test_missing_volume_is_named(tmp_path):
    with pytest.raises(VolumeError, match="nope.nii.gz: no such volume file"):
        load_volume(tmp_path / "nope.nii.gz")


def test_trailing_singleton_axis_is_dropped(tmp_path):
    path = tmp_path / "oasis_like.img"
    nib.save(nib.AnalyzeImage(brain_blob()[..., None], np.eye(4)), str(path))
    data, _ = load_volume(path)
    assert data.shape == (40, 48, 40)


# --- template grid ---------------------------------------------------------------------


def test_template_grid(template_dir):
    tpl = load_template(template_dir)
    assert tpl["template"].shape == tpl["mask"].shape == tpl["atlas"].shape == (99, 117, 95)
    assert tpl["template"][~tpl["mask"]].max() == 0  # skull-stripped
    assert set(np.unique(tpl["atlas"][~tpl["mask"]])) == {0}
    labels = region_labels(tpl["names"], ["Hippocampus_L", "Hippocampus_R"], key="k")
    for name, label in labels.items():
        x_mm = (tpl["affine"] @ np.append(np.argwhere(tpl["atlas"] == label).mean(axis=0), 1))[0]
        assert (x_mm < 0) == name.endswith("_L")


def test_unknown_region_names_the_key(template_dir):
    names = load_template(template_dir)["names"]
    with pytest.raises(ValueError, match=r"brain.synthetic.planted_regions: .*'Hipocampus_L'.*Hippocampus_L"):
        region_labels(names, ["Hipocampus_L"], key="brain.synthetic.planted_regions")


# --- synthetic cohort ----------------------------------------------------------------

SYNTH = dict(
    n_per_class=2,
    planted_regions=["Hippocampus_L", "Amygdala_R"],
    effect=1.0,
    volume_loss=[0.25, 0.3],
    ventricles_disease=0.25,
    smoothing_mm=3.0,
    age={
        "control": [70.0, 5.0],
        "impaired": [80.0, 1.0],
        "range": [60.0, 90.0],
        "reference": 70.0,
        "ventricles_per_year": 0.03,
        "brain_per_year": 0.003,
    },
    anatomy={"warp_mm": 4.0, "spacing_mm": 32.0},
    misalignment={"rotation_deg": 8.0, "translation_mm": 8.0, "scale": 0.08},
    bias=0.2,
    gain=0.1,
    noise=0.03,
)


@pytest.fixture(scope="module")
def cohort(template_dir, tmp_path_factory):
    from cnnpractice.brain.synth import make_synthetic_cohort

    out = tmp_path_factory.mktemp("cohort")
    truth = make_synthetic_cohort(template_dir=template_dir, out_dir=out, seed=3, **SYNTH)
    (out / "cohort.json").write_text(json.dumps({"source": "synthetic", **truth}))
    return out, truth


def test_synthetic_cohort_layout_and_truth(cohort):
    out, truth = cohort
    with open(out / "subjects.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["label"] for r in rows] == ["0", "1", "0", "1"]
    for row, subject in zip(rows, truth["subjects"]):
        data, _ = load_volume(row["volume"])
        assert data.shape == (99, 117, 95) and data.min() >= 0
        assert float(row["age"]) == pytest.approx(subject["age"], abs=0.01)
        impaired = row["label"] == "1"
        assert (subject["severity"] > 0) == impaired
        # the planted regions reach the configured volume (1 - severity), controls keep theirs
        for region in SYNTH["planted_regions"]:
            assert subject["realised"][region] == pytest.approx(1 - subject["severity"], abs=0.01)
        assert subject["realised"]["ventricles"] == pytest.approx(subject["target"]["ventricles"], rel=0.01)
        assert subject["pullback_jacobian"][0] > 0  # the disease warp is a diffeomorphism
        assert 0 < subject["anatomy"]["jacobian"][0] < 1 < subject["anatomy"]["jacobian"][-1]
        assert subject["anatomy"]["rms_mm"] == pytest.approx(4.0, rel=0.1)
    ages = {r["label"]: float(r["age"]) for r in rows}
    assert ages["1"] > 75  # the impaired class's ages come from its own distribution (a confound here)


def test_planted_atrophy_is_tissue_loss_where_the_truth_says(cohort, template_dir):
    """Undo the known nuisance (position and anatomy): the impaired subject's planted region
    has lost tissue (darker: CSF in the freed space) relative to the control's, and the
    ventricles of the older, impaired subject are larger (more dark voxels)."""
    from cnnpractice.brain.nonlinear import resample_points
    from cnnpractice.brain.synth import true_transform

    out, truth = cohort
    tpl = load_template(template_dir)
    planted = tpl["atlas"] == truth["planted_regions"]["Hippocampus_L"]
    means, dark = [], []
    for subject in truth["subjects"][:2]:
        data, affine = load_volume(out / "volumes" / f"{subject['subject']}.nii.gz")
        back = resample_points(data, affine, true_transform(truth, subject, data.shape, affine))
        means.append(back[planted].mean() / back[tpl["mask"]].mean())
        dark.append(int((back[tpl["mask"]] < 0.5 * np.median(back[tpl["mask"]])).sum()))
    control, impaired = means
    assert impaired < control * (1 - 0.05)
    assert dark[1] > dark[0]


def test_nothing_planted_cohort_keeps_the_regions(template_dir, tmp_path):
    from cnnpractice.brain.synth import make_synthetic_cohort

    settings = {**SYNTH, "n_per_class": 2, "effect": 0.0, "age": {**SYNTH["age"], "impaired": [70.0, 5.0]}}
    truth = make_synthetic_cohort(template_dir=template_dir, out_dir=tmp_path, seed=1, **settings)
    for subject in truth["subjects"]:
        assert all(subject["target"][r] == 1.0 for r in SYNTH["planted_regions"])
        assert all(abs(subject["realised"][r] - 1) < 0.01 for r in SYNTH["planted_regions"])


def test_synthetic_cohort_is_reproducible(cohort, template_dir, tmp_path):
    from cnnpractice.brain.synth import make_synthetic_cohort

    out, truth = cohort
    again = make_synthetic_cohort(template_dir=template_dir, out_dir=tmp_path, seed=3, **SYNTH)
    assert again["subjects"] == truth["subjects"]
    va, _ = load_volume(out / "volumes" / "sub-001.nii.gz")
    vb, _ = load_volume(tmp_path / "volumes" / "sub-001.nii.gz")
    assert np.array_equal(va, vb)


@pytest.mark.parametrize(
    "change,match",
    [
        ({"volume_loss": [0.3, 0.2]}, "volume_loss must be"),
        ({"effect": 4.0}, "effect \\* volume_loss must stay below 1"),
        ({"n_per_class": 1}, "n_per_class must be at least 2"),
    ],
)
def test_synthetic_settings_are_checked(template_dir, tmp_path, change, match):
    from cnnpractice.brain.synth import make_synthetic_cohort

    with pytest.raises(ValueError, match=match):
        make_synthetic_cohort(template_dir=template_dir, out_dir=tmp_path, seed=1, **{**SYNTH, **change})


# --- slicing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "axis,range_mm,step,expected_mm",
    [
        (0, [-4, 4], 1, [-4, -2, 0, 2, 4]),
        (0, [4, -4], 2, [-4, 0, 4]),
        (2, [-30, -25], 1, [-30, -28, -26]),
    ],
)
def test_slice_positions_in_world_mm(axis, range_mm, step, expected_mm):
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-98, -134, -72]
    positions = slice_positions(affine, (99, 117, 95), axis, range_mm, step)
    assert (affine[axis, axis] * positions + affine[axis, 3]).tolist() == expected_mm


def test_slice_range_outside_the_grid_is_an_error():
    with pytest.raises(ValueError, match="no plane of axis 0 lies in range_mm"):
        slice_positions(np.eye(4), (10, 10, 10), 0, [100, 200])


def test_planes_resize_and_keep_orientation():
    vol = np.zeros((10, 20, 30), np.float32)
    vol[3, :10, :] = 1.0  # the first half of y, on plane x = 3
    out = planes(vol, 0, np.array([3, 4]), 16)
    assert out.shape == (2, 16, 16)
    assert out[0, :7].min() == 1.0 and out[0, 9:].max() == 0.0 and out[1].max() == 0.0


def test_extract_slices_keeps_subjects(tmp_path, template_dir):
    tpl = load_template(template_dir)
    rows = []
    for i, label in enumerate([0, 1, 1]):
        path = tmp_path / f"s{i}.nii.gz"
        save_volume(path, tpl["template"] * (1 + i), tpl["affine"])
        rows.append({"subject": f"s{i}", "label": label, "aligned": str(path), "included": i != 2})
    with open(tmp_path / "qc.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    spec = {"axis": "sagittal", "range_mm": [-20, 20], "step": 4, "hemisphere": "left"}
    info = extract_slices(
        qc_csv=tmp_path / "qc.csv", template_dir=template_dir, out_dir=tmp_path / "sl", spec=spec, size=32
    )
    x, meta = load_slices(tmp_path / "sl")
    assert info["subjects"] == 2 and x.shape == (2 * info["slices_per_subject"], 1, 32, 32)
    assert meta["subjects"].tolist() == ["s0", "s1"] and meta["subject_label"].tolist() == [0, 1]
    assert meta["label"].tolist() == [0] * info["slices_per_subject"] + [1] * info["slices_per_subject"]
    # per-subject scaling: s1 (twice as bright) gives the same uint8 slices as s0
    half = info["slices_per_subject"]
    assert np.abs(x[:half].astype(int) - x[half:].astype(int)).max() <= 1
    # left hemisphere only: planes at x > 0 are empty
    world_x = tpl["affine"][0, 0] * meta["position"] + tpl["affine"][0, 3]
    assert x[world_x > 0].max() == 0 and x[world_x < 0].max() > 0


def write_subjects(path, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_align_shard_reports_an_unreadable_volume_and_goes_on(cohort, template_dir, tmp_path):
    from cnnpractice.brain.alignment import align_shard

    out, truth = cohort
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes((out / "volumes" / "sub-001.nii.gz").read_bytes()[:5000])
    write_subjects(
        tmp_path / "subjects.csv",
        [
            {"subject": "sub-000", "label": 0, "group": "control", "volume": str(out / "volumes" / "sub-000.nii.gz")},
            {"subject": "bad", "label": 1, "group": "impaired", "volume": str(bad)},
        ],
    )
    qc = align_shard(
        cohort_csv=tmp_path / "subjects.csv",
        template_dir=template_dir,
        out_dir=tmp_path / "al",
        shard=0,
        n_shards=1,
        method="simpleitk",
        settings={},
        seed=0,
        cohort_json=out / "cohort.json",
    )
    good, failed = qc
    assert good["corr_after"] > good["corr_before"] and not good["error"]
    # affine alignment cannot undo the anatomy's warp: below the true transform's ceiling
    assert good["corr_after"] == good["corr_affine"] < good["corr_true"] - 0.1
    assert 1.5 < good["error_affine_mm"] < 8
    assert (tmp_path / "al" / "sub-000.nii.gz").is_file() and not (tmp_path / "al" / "bad.nii.gz").exists()
    assert np.isnan(failed["corr_after"]) and "bad.nii.gz" in failed["error"]
    assert "VolumeError" in failed["error"] or "ValueError" in failed["error"]


@pytest.mark.parametrize(
    "nonlinear",
    [
        {"method": "syn", "settings": {"iterations": [10, 0]}},
        pytest.param({"method": "bspline"}, marks=pytest.mark.slow),
    ],
)
def test_nonlinear_step_gets_closer_to_the_known_warp(cohort, template_dir, nonlinear):
    from cnnpractice.brain.alignment import align_subject

    out, truth = cohort
    tpl = load_template(template_dir)
    data, affine = load_volume(out / "volumes" / "sub-001.nii.gz")
    aligned, qc = align_subject(
        data,
        affine,
        tpl,
        method="simpleitk",
        settings={},
        nonlinear=nonlinear,
        truth=(truth, truth["subjects"][1]),
        seed=0,
    )
    assert aligned.shape == tpl["template"].shape
    assert qc["corr_after"] == qc["corr_nonlinear"] > qc["corr_affine"] + 0.05
    assert qc["error_nonlinear_mm"] < qc["error_affine_mm"] - 0.5
