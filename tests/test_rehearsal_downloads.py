"""Our download and reading code on the miniatures: the small-data readers, aeon's Zenodo
downloader behind our load_ucr, and fetch_oasis with the cohort, through the loopback
server. (The independent readers of each format: test_rehearsal_miniatures.py.)"""

import shutil

import numpy as np
import pytest
import rehearsal_support
from rehearsal_support import loopback, served  # noqa: F401  (loopback: a fixture)


@pytest.fixture(scope="session")
def mini(tmp_path_factory):
    return rehearsal_support.miniatures(tmp_path_factory)


@pytest.mark.parametrize("name", ["flowers102", "food101", "uc_merced", "brazilian_coffee", "fashion_mnist"])
def test_smalldata_prepare_reads_each_miniature(mini, tmp_path, name):
    """Our own reader on the raw layout fetch() makes (the archive unpacked where it says)."""
    from cnnpractice.data.archives import extract
    from cnnpractice.smalldata.datasets import prepare
    from cnnpractice.smalldata.registry import DATASETS

    raw = tmp_path / "raw"
    for item in DATASETS[name]["downloads"]:
        folder = raw / item["into"]
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / item["urls"][0].rsplit("/", 1)[-1]
        shutil.copy(served(mini, item["urls"][0]), target)
        if item["extract"]:
            extract(target, folder)
            target.unlink()
    info = prepare(name, raw, tmp_path / "out", image_size=16, channels=3, train_per_class=1, test_per_class=1)
    assert info["n_train"] == info["n_test"] == len(info["classes"])
    assert np.load(tmp_path / "out" / "train_x.npy").shape == (info["n_train"], 3, 16, 16)


# --------------------------------------------------------------------------- downloads through the server


def mirror(mini, server):
    """Downloads through the rehearsal server, checked against the miniatures' manifest."""
    from cnnpractice.data.downloads import Downloads, load_manifest

    return Downloads(mirror=server.url, checksums=load_manifest(mini[0] / "manifest.json"))


@pytest.mark.usefixtures("loopback")
def test_ucr_downloaded_through_the_mirror_and_read_by_aeon(mini, tmp_path):
    """Our Zenodo fetch (record JSON, then its files, md5-checked as the record says) through
    the server; aeon reads the local copy."""
    from cnnpractice.data.ucr_source import load_ucr
    from cnnpractice.rehearsal.server import serve

    with serve(mini[0] / "mirror") as server:
        raw = load_ucr("FaceAll", source="download", extract_path=tmp_path, downloads=mirror(mini, server))
    assert raw["source"] == "download" and raw["X_train"].shape == (14 * 3, 1, 131)
    assert [f["verified"] for f in raw["files"]] == [["md5", "sha256"]] * 2  # record's md5 + manifest sha256
    assert all(f["source"].startswith(server.url) for f in raw["files"])
    assert sorted(p.name for p in (tmp_path / "FaceAll").iterdir()) == ["FaceAll_TEST.ts", "FaceAll_TRAIN.ts"]


@pytest.mark.usefixtures("loopback")
def test_fetch_oasis_and_cohort_from_the_server(mini, tmp_path):
    """Our OASIS download and cohort code on the miniature discs, served on loopback."""
    from cnnpractice.brain.oasis import build_oasis_cohort
    from cnnpractice.brain.oasis_fetch import fetch_oasis
    from cnnpractice.rehearsal.server import serve

    with serve(mini[0] / "mirror") as server:
        info = fetch_oasis(tmp_path / "oasis", discs=[1, 2], downloads=mirror(mini, server))
    assert sorted(info["discs"]) == ["1", "2"] and info["discs"]["1"]["sessions"] == 3
    # disc 1: the manifest's md5 and sha256 replace the published md5; disc 2 (nothing
    # published): the manifest's values are checked too
    assert info["discs"]["1"]["verified"] == info["discs"]["2"]["verified"] == ["md5", "sha256"]
    rows = build_oasis_cohort(tmp_path / "oasis", tmp_path / "cohort", impaired_cdr=[1.0])
    assert [r["label"] for r in rows] == [0, 1, 0]  # disc 2's second subject has CDR 0.5: not selected
