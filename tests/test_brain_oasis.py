"""Tests of cnnpractice.brain.oasis: clinical table, cohort selection, offline fetch.

No test reaches the network: downloads read ``file://`` URLs of tar.gz archives made here
from a fake OASIS-1 tree of tiny Analyze files (conftest refuses sockets).
"""

from __future__ import annotations

import csv
import hashlib
import json
import tarfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from cnnpractice.brain import oasis, oasis_clinical, oasis_fetch
from cnnpractice.brain.volumes import load_volume
from cnnpractice.data.downloads import cache_relpath

HEADER = "ID,M/F,Hand,Age,Educ,SES,MMSE,CDR,eTIV,nWBV,ASF,Delay"
# number, sex, age, mmse, cdr ('' = not rated), disc (None = on no disc), averaged runs
SUBJECTS = [
    (1, "F", 74, 29, "0", 1, 4),
    (2, "F", 55, 29, "0", 1, 4),
    (3, "F", 73, 27, "0.5", 1, 3),
    (4, "M", 28, "", "", 1, 4),  # young: no CDR
    (5, "M", 80, 20, "1", 1, 4),
    (6, "M", 81, 21, "1", 2, 3),
    (7, "F", 88, 15, "2", 2, 4),
    (8, "F", 70, 30, "0", 2, 4),
    (9, "M", 77, 24, "1", 2, 4),
    (12, "F", 69, 29, "0", None, 4),  # on disc 3, not downloaded
    (13, "M", 90, 22, "1", None, 4),
]
RELIABILITY = "OAS1_0006_MR2,M,R,81,2,3,21,1,1500,0.7,1.1,23"


def clinical_text(subjects=SUBJECTS) -> str:
    lines = [HEADER]
    for n, sex, age, mmse, cdr, _, _ in subjects:
        educ, ses = ("", "") if cdr == "" else ("2", "3")
        lines.append(f"OAS1_{n:04d}_MR1,{sex},R,{age},{educ},{ses},{mmse},{cdr},1400,0.75,1.2,N/A")
    return "\n".join([*lines, RELIABILITY]) + "\n"


def write_analyze(path: Path, value: int) -> None:
    """A tiny Analyze pair with a trailing axis of 1, as OASIS's (176 x 208 x 176 x 1)."""
    data = np.zeros((6, 7, 5, 1), np.int16)
    data[1:5, 2:6, 1:4] = value
    data[0, 0, 0] = 1  # mark the first voxel, to check orientation handling
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.AnalyzeImage(data, np.eye(4)), str(path))


def make_session(disc_dir: Path, n: int, runs: int, session: str = "MR1") -> None:
    sid = f"OAS1_{n:04d}_{session}"
    base = disc_dir / sid
    t88 = base / "PROCESSED" / "MPRAGE" / "T88_111"
    write_analyze(t88 / f"{sid}_mpr_n{runs}_anon_111_t88_masked_gfc.img", 100 + n)
    write_analyze(t88 / f"{sid}_mpr_n{runs}_anon_111_t88_gfc.img", 200 + n)
    write_analyze(base / "RAW" / f"{sid}_mpr-1_anon.img", 300 + n)
    (base / f"{sid}.txt").write_text(f"SESSION ID: {sid}\n")


def make_raw_tree(root: Path, subjects=SUBJECTS) -> Path:
    for n, *_, disc, runs in subjects:
        if disc is not None:
            make_session(root / f"disc{disc}", n, runs)
    make_session(root / "disc2", 6, 3, "MR2")
    (root / oasis_clinical.CLINICAL_NAME).write_text(clinical_text(subjects))
    return root


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------
# clinical table
# ---------------------------------------------------------------------------


def test_read_clinical(tmp_path):
    path = tmp_path / "clinical.csv"
    path.write_text("\ufeff" + clinical_text() + "\n,,,,,,,,,,,\n")  # BOM, blank trailing row
    rows = oasis_clinical.read_clinical(path)
    assert len(rows) == len(SUBJECTS) + 1
    first, young, last = rows[0], rows[3], rows[-1]
    assert first == {
        "id": "OAS1_0001_MR1",
        "subject": "OAS1_0001",
        "number": 1,
        "session": "MR1",
        "sex": "F",
        "hand": "R",
        "age": 74.0,
        "educ": 2.0,
        "ses": 3.0,
        "mmse": 29.0,
        "cdr": 0.0,
        "etiv": 1400.0,
        "nwbv": 0.75,
        "asf": 1.2,
        "delay": None,
    }
    assert young["cdr"] is None and young["mmse"] is None and young["age"] == 28.0
    assert last["session"] == "MR2" and last["subject"] == "OAS1_0006" and last["delay"] == 23.0
    assert [r["cdr"] for r in rows[:7]] == [0.0, 0.0, 0.5, None, 1.0, 1.0, 2.0]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            HEADER.replace(",CDR", "") + "\nOAS1_0001_MR1,F,R,74,2,3,29,1400,0.7,1.2,\n",
            r"missing column\(s\) \['CDR'\]",
        ),
        ("Subject,M/F,Age\nOAS1_0001_MR1,F,74\n", r"\['ID', 'MMSE', 'CDR'\]"),
        ("", "missing column"),
        (HEADER + "\nOAS2_0001_MR1,F,R,74,2,3,29,0,1400,0.7,1.2,\n", "line 2: ID 'OAS2_0001_MR1'"),
        (HEADER + "\nOAS1_0001_MR1,F,R,old,2,3,29,0,1400,0.7,1.2,\n", "column Age holds 'old'"),
        (HEADER + "\nOAS1_0001_MR1,F,R,74,2,3,29,0.7,1400,0.7,1.2,\n", "CDR 0.7 is not one of"),
    ],
)
def test_read_clinical_errors_name_file(tmp_path, text, message):
    path = tmp_path / "oasis_cross-sectional.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        oasis_clinical.read_clinical(path)
    assert str(path) in str(err.value)


# ---------------------------------------------------------------------------
# cohort
# ---------------------------------------------------------------------------


@pytest.fixture
def raw(tmp_path) -> Path:
    return make_raw_tree(tmp_path / "raw")


@pytest.mark.parametrize(
    "kw, labels, groups, not_selected",
    [
        ({}, {1: 0, 2: 0, 3: 1, 5: 1, 6: 1, 7: 1, 8: 0, 9: 1}, ("CDR 0", "CDR >= 0.5"), {}),
        ({"impaired_cdr": (1.0,)}, {1: 0, 2: 0, 5: 1, 6: 1, 8: 0, 9: 1}, ("CDR 0", "CDR 1"), {"0.5": 1, "2": 1}),
        (
            {"control_cdr": (0, 0.5), "impaired_cdr": (1, 2)},
            {1: 0, 2: 0, 3: 0, 5: 1, 6: 1, 7: 1, 8: 0, 9: 1},
            ("CDR 0/0.5", "CDR >= 1"),
            {},
        ),
    ],
)
def test_build_cohort_labels_and_counts(raw, tmp_path, kw, labels, groups, not_selected):
    out = tmp_path / "cohort"
    rows = oasis.build_oasis_cohort(raw, out, **kw)
    assert {int(r["subject"][5:]): r["label"] for r in rows} == labels
    assert [r["subject"] for r in rows] == sorted(r["subject"] for r in rows)
    assert {r["group"] for r in rows} == set(groups)
    written = read_rows(out / "subjects.csv")
    assert list(written[0])[:4] == ["subject", "label", "group", "volume"]
    assert {"cdr", "age", "sex", "mmse", "session"} <= set(written[0])
    assert [(w["subject"], int(w["label"])) for w in written] == [(r["subject"], r["label"]) for r in rows]
    sel = json.loads((out / "selection.json").read_text())
    assert sel["rows"] == len(SUBJECTS) + 1 and sel["other_session"] == 1
    assert sel["without_cdr"] == 1 and sel["not_on_downloaded_discs"] == 2
    assert sel["cdr_not_selected"] == not_selected
    assert sel["discs"] == [1, 2] and sel["missing_discs"] == list(range(3, 13))
    assert sel["per_class"] == {
        groups[0]: sum(v == 0 for v in labels.values()),
        groups[1]: sum(v == 1 for v in labels.values()),
    }
    assert sel["converted_to_nifti"] == 0
    assert sorted(p.name for p in out.iterdir()) == ["selection.json", "subjects.csv"]


def test_build_cohort_volumes_readable(raw, tmp_path):
    rows = oasis.build_oasis_cohort(raw, tmp_path / "c")
    by_subject = {r["subject"]: r for r in rows}
    r6 = by_subject["OAS1_0006"]
    assert r6["volume"].endswith("OAS1_0006_MR1_mpr_n3_anon_111_t88_masked_gfc.img")
    assert (r6["disc"], r6["cdr"], r6["age"], r6["sex"], r6["mmse"]) == (2, 1.0, 81, "M", 21)
    data, affine = load_volume(r6["volume"], check_brain=False)
    assert data.shape == (6, 7, 5) and data.max() == 106
    assert nib.aff2axcodes(affine) == ("L", "A", "S")
    np.testing.assert_allclose(affine, oasis.oasis_affine("t88_masked_gfc", data.shape))
    unmasked = oasis.build_oasis_cohort(raw, tmp_path / "u", image="t88_gfc")
    assert load_volume(unmasked[0]["volume"], check_brain=False)[0].max() == 201


def test_build_cohort_raw_reoriented(raw, tmp_path):
    out = tmp_path / "r"
    rows = oasis.build_oasis_cohort(raw, out, image="raw", max_per_class=1)
    assert len(rows) == 2
    sel = json.loads((out / "selection.json").read_text())
    assert sel["converted_to_nifti"] == 2
    for row in rows:
        path = Path(row["volume"])
        assert path.parent == out / "volumes" and path.name.endswith("_raw.nii.gz")
        data, affine = load_volume(path, check_brain=False)
        assert data.shape == (6, 7, 5) and data[0, 0, 0] == 1  # voxels untouched
        assert nib.aff2axcodes(affine) == ("A", "S", "L")
        np.testing.assert_allclose(affine, oasis.oasis_affine("raw", (6, 7, 5), (1, 1, 1)))


def test_build_cohort_subsample_seeded(raw, tmp_path):
    picks = {}
    for seed in range(6):
        rows = oasis.build_oasis_cohort(raw, tmp_path / f"s{seed}", max_per_class=2, seed=seed)
        assert [r["label"] for r in rows].count(0) == 2 and len(rows) == 4
        again = oasis.build_oasis_cohort(raw, tmp_path / "again", max_per_class=2, seed=seed)
        assert again == rows
        picks[seed] = tuple(r["subject"] for r in rows)
    assert len(set(picks.values())) > 1
    sel = json.loads((tmp_path / "s0" / "selection.json").read_text())
    assert sel["available_per_class"] == {"CDR 0": 3, "CDR >= 0.5": 5}
    assert sel["per_class"] == {"CDR 0": 2, "CDR >= 0.5": 2}


@pytest.mark.parametrize(
    "damage, message",
    [
        ("delete_image", "OAS1_0005_MR1 (no OAS1_0005_MR1_mpr_n*_anon_111_t88_masked_gfc.img"),
        ("delete_hdr", "OAS1_0005_MR1 (no"),
        ("delete_session", "OAS1_0005_MR1 (no session folder)"),
        ("duplicate_image", "OAS1_0005_MR1 (2 "),
    ],
)
def test_build_cohort_missing_image_is_an_error(raw, tmp_path, damage, message):
    t88 = raw / "disc1" / "OAS1_0005_MR1" / "PROCESSED" / "MPRAGE" / "T88_111"
    img = t88 / "OAS1_0005_MR1_mpr_n4_anon_111_t88_masked_gfc.img"
    if damage == "delete_image":
        img.unlink()
    elif damage == "delete_hdr":
        img.with_suffix(".hdr").unlink()
    elif damage == "delete_session":
        import shutil

        shutil.rmtree(raw / "disc1" / "OAS1_0005_MR1")
    else:
        write_analyze(t88 / "OAS1_0005_MR1_mpr_n3_anon_111_t88_masked_gfc.img", 1)
    out = tmp_path / "c"
    with pytest.raises(ValueError, match=r"1 selected OASIS-1 subject\(s\)") as err:
        oasis.build_oasis_cohort(raw, out)
    assert message in str(err.value)
    assert not out.exists()


def test_build_cohort_gap_between_discs_is_covered(tmp_path):
    # subject 10 lies between disc 2 (max 9) and disc 3 (min 12): both downloaded, so its
    # absence is an error, not an undownloaded disc
    subjects = [s if s[0] != 12 else (12, "F", 69, 29, "0", 3, 4) for s in SUBJECTS]
    subjects.append((10, "M", 75, 26, "1", None, 4))
    raw = make_raw_tree(tmp_path / "raw", subjects)
    with pytest.raises(ValueError, match=r"OAS1_0010_MR1 \(no session folder\)"):
        oasis.build_oasis_cohort(raw, tmp_path / "c")


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"image": "t1"}, "unknown OASIS image 't1'"),
        ({"control_cdr": (0,), "impaired_cdr": (0, 1)}, "overlap"),
        ({"impaired_cdr": (0.7,)}, "impaired_cdr must be"),
        ({"control_cdr": ()}, "control_cdr must be"),
        ({"impaired_cdr": (3.0,)}, r"no subject in class\(es\) \['CDR 3'\]"),
    ],
)
def test_build_cohort_bad_arguments(raw, tmp_path, kw, message):
    with pytest.raises(ValueError, match=message):
        oasis.build_oasis_cohort(raw, tmp_path / "c", **kw)


def test_build_cohort_nested_discs_and_stale_stage(raw, tmp_path):
    # discs unpacked by hand one level down; a stage left by a killed fetch is ignored
    (raw / "oasis_cross-sectional_disc1").mkdir()
    (raw / "disc1").rename(raw / "oasis_cross-sectional_disc1" / "disc1")
    (raw / ".disc2.extract-x" / "disc2").mkdir(parents=True)
    rows = oasis.build_oasis_cohort(raw, tmp_path / "c")
    assert len(rows) == 8 and rows[0]["volume"].startswith(str(raw / "oasis_cross-sectional_disc1"))


def test_build_cohort_without_discs(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / oasis_clinical.CLINICAL_NAME).write_text(clinical_text())
    with pytest.raises(FileNotFoundError, match="run fetch_oasis"):
        oasis.build_oasis_cohort(tmp_path / "raw", tmp_path / "c")


@pytest.mark.parametrize(
    "image, shape, zooms, codes, centre_world",
    [
        ("t88_masked_gfc", (176, 208, 176), None, ("L", "A", "S"), (0, 0, 0)),
        ("raw", (256, 256, 128), None, ("A", "S", "L"), (0, 0, 0)),
    ],
)
def test_oasis_affine(image, shape, zooms, codes, centre_world):
    affine = oasis.oasis_affine(image, shape, zooms)
    assert nib.aff2axcodes(affine) == codes
    centre = (np.asarray(shape) - 1) / 2
    np.testing.assert_allclose(nib.affines.apply_affine(affine, centre), centre_world)
    assert np.allclose(np.sort(np.abs(affine[:3, :3]).sum(0)), (1, 1, 1.25) if image == "raw" else (1, 1, 1))


def test_oasis_affine_t88_matches_nibabel_default(tmp_path):
    """nibabel reads an Analyze pair (no orientation) as L, A, S centred: oasis_affine agrees."""
    path = tmp_path / "x.img"
    nib.save(nib.AnalyzeImage(np.zeros((176, 208, 176, 1), np.int16), np.eye(4)), str(path))
    img = nib.load(str(path))
    np.testing.assert_allclose(img.affine, oasis.oasis_affine("t88_gfc", img.shape))


# ---------------------------------------------------------------------------
# fetch, offline
# ---------------------------------------------------------------------------


def make_server(tmp_path: Path) -> Path:
    """Archives laid out as on the OASIS server (members under disc<N>/) and the CSV."""
    tree = make_raw_tree(tmp_path / "tree")
    server = tmp_path / "server"
    server.mkdir()
    for disc in (1, 2):
        with tarfile.open(server / f"oasis_cross-sectional_disc{disc}.tar.gz", "w:gz") as tf:
            tf.add(tree / f"disc{disc}", arcname=f"disc{disc}")
    (server / oasis_clinical.CLINICAL_NAME).write_text(clinical_text())
    return server


def urls(server: Path) -> dict:
    return {
        "disc_url": server.as_uri() + "/oasis_cross-sectional_disc{disc}.tar.gz",
        "clinical_url": (server / oasis_clinical.CLINICAL_NAME).as_uri(),
        "disc_md5": {},
    }


def test_fetch_then_build(tmp_path):
    server = make_server(tmp_path)
    dest = tmp_path / "resources" / "oasis"
    info = oasis_fetch.fetch_oasis(dest, discs=[2, 1], **urls(server))
    assert sorted(p.name for p in dest.iterdir()) == ["disc1", "disc2", "fetch.json", oasis_clinical.CLINICAL_NAME]
    assert info == json.loads((dest / "fetch.json").read_text())
    assert info["clinical"]["rows"] == len(SUBJECTS) + 1
    d1 = info["discs"]["1"]
    archive = server / "oasis_cross-sectional_disc1.tar.gz"
    assert d1["size"] == archive.stat().st_size
    assert d1["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert d1["sessions"] == 5 and info["discs"]["2"]["sessions"] == 5
    assert d1["url"] == archive.as_uri()

    # extracted discs are skipped: a second call works with the server gone
    for p in server.iterdir():
        p.unlink()
    assert oasis_fetch.fetch_oasis(dest, discs=[1, 2], **urls(server)) == info

    rows = oasis.build_oasis_cohort(dest, tmp_path / "cohort", impaired_cdr=(1.0,))
    assert [r["subject"] for r in rows] == [
        "OAS1_0001",
        "OAS1_0002",
        "OAS1_0005",
        "OAS1_0006",
        "OAS1_0008",
        "OAS1_0009",
    ]


def test_fetch_keep_archives_and_md5(tmp_path):
    server = make_server(tmp_path)
    md5 = hashlib.md5((server / "oasis_cross-sectional_disc1.tar.gz").read_bytes()).hexdigest()
    dest = tmp_path / "o"
    info = oasis_fetch.fetch_oasis(dest, discs=[1], keep_archives=True, **{**urls(server), "disc_md5": {1: md5}})
    assert info["discs"]["1"]["verified"] == ["md5"] and list(info["discs"]) == ["1"]
    # kept where archives wait to be unpacked (the downloads folder beside the dataset's)
    url = (server / "oasis_cross-sectional_disc1.tar.gz").as_uri()
    assert (tmp_path / "downloads" / cache_relpath(url)).is_file()
    # a later call adds disc 2 and still lists disc 1
    info = oasis_fetch.fetch_oasis(dest, discs=[2], **urls(server))
    assert list(info["discs"]) == ["1", "2"]


def test_fetch_wrong_md5_leaves_nothing(tmp_path):
    server = make_server(tmp_path)
    dest = tmp_path / "o"
    with pytest.raises(ValueError, match="the file was not kept") as err:
        oasis_fetch.fetch_oasis(dest, discs=[1], **{**urls(server), "disc_md5": {1: "0" * 32}})
    assert "oasis_cross-sectional_disc1.tar.gz" in str(err.value)
    assert sorted(p.name for p in dest.iterdir()) == [oasis_clinical.CLINICAL_NAME]


def test_fetch_failed_download_names_url(tmp_path):
    server = make_server(tmp_path)
    (server / "oasis_cross-sectional_disc2.tar.gz").unlink()
    dest = tmp_path / "o"
    with pytest.raises(RuntimeError, match="could not download") as err:
        oasis_fetch.fetch_oasis(dest, discs=[1, 2], **urls(server))
    assert urls(server)["disc_url"].format(disc=2) in str(err.value)
    assert (dest / "disc1" / oasis_fetch.MARKER).is_file()  # disc 1 done before the failure
    assert not (dest / "disc2").exists() and not (dest / "archives").exists()
    assert not list(dest.glob(".disc*"))


def test_fetch_clinical_not_a_table(tmp_path):
    server = make_server(tmp_path)
    (server / oasis_clinical.CLINICAL_NAME).write_text("<html><body>Please log in</body></html>\n")
    dest = tmp_path / "o"
    with pytest.raises(RuntimeError, match="not usable") as err:
        oasis_fetch.fetch_oasis(dest, discs=[1], **urls(server))
    assert (server / oasis_clinical.CLINICAL_NAME).as_uri() in str(err.value)
    assert not (dest / oasis_clinical.CLINICAL_NAME).exists()


@pytest.mark.parametrize("member", ["../evil.txt", "disc1/../../evil.txt", "/tmp/evil.txt"])
def test_fetch_refuses_escaping_members(tmp_path, member):
    server = make_server(tmp_path)
    archive = server / "oasis_cross-sectional_disc1.tar.gz"
    payload = tmp_path / "payload.txt"
    payload.write_text("gotcha")
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(tmp_path / "tree" / "disc1", arcname="disc1")
        info = tarfile.TarInfo(member)  # addfile keeps a leading "/", add() would strip it
        info.size = len(payload.read_bytes())
        with open(payload, "rb") as f:
            tf.addfile(info, f)
    dest = tmp_path / "deep" / "o"
    with pytest.raises(RuntimeError, match="outside") as err:
        oasis_fetch.fetch_oasis(dest, discs=[1], **urls(server))
    assert archive.as_uri() in str(err.value)
    assert not (tmp_path / "deep" / "evil.txt").exists() and not (dest / "disc1").exists()
    assert not list(dest.glob(".disc*")) and not (dest / "archives").exists()


def test_fetch_refuses_foreign_disc_folder_and_bad_discs(tmp_path):
    server = make_server(tmp_path)
    dest = tmp_path / "o"
    (dest / "disc1").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="delete it"):
        oasis_fetch.fetch_oasis(dest, discs=[1], **urls(server))
    with pytest.raises(ValueError, match=r"numbered 1\.\.12"):
        oasis_fetch.fetch_oasis(dest, discs=[0, 13], **urls(server))


def test_make_cohort_with_the_config_section(raw, tmp_path):
    """The workflow passes the whole brain.oasis section (discs included) through make_cohort."""
    from cnnpractice.brain.cohort import make_cohort

    section = {
        "discs": [1, 2],
        "image": "t88_masked_gfc",
        "control_cdr": [0.0],
        "impaired_cdr": [1.0],
        "first_session_only": True,
        "max_per_class": None,
    }
    summary = make_cohort(
        settings={"source": "oasis", "oasis": section},
        template_dir=None,
        out_dir=tmp_path / "cohort",
        raw_dir=raw,
        seed=0,
    )
    rows = read_rows(tmp_path / "cohort" / "subjects.csv")
    assert summary["source"] == "oasis" and summary["subjects"] == len(rows) > 0
    assert summary["per_class"] == [sum(r["label"] == "0" for r in rows), sum(r["label"] == "1" for r in rows)]
    assert json.loads((tmp_path / "cohort" / "cohort.json").read_text()) == summary
