"""Our download and reading code on the miniatures: the small-data readers, aeon's Zenodo
downloader behind our load_ucr, and fetch_oasis with the cohort, through the loopback
server. (The independent readers of each format: test_rehearsal_miniatures.py.)"""

import shutil

import numpy as np
import pytest
import rehearsal_support
from rehearsal_support import loopback, served  # noqa: F401  (loopback: a fixture)

from cnnpractice.rehearsal import mini_ucr
from cnnpractice.rehearsal.layout import mirror_url


@pytest.fixture(scope="session")
def mini(tmp_path_factory):
    return rehearsal_support.miniatures(tmp_path_factory)


@pytest.mark.parametrize("name", ["flowers102", "food101", "uc_merced", "brazilian_coffee", "fashion_mnist"])
def test_smalldata_prepare_reads_each_miniature(mini, tmp_path, name):
    """Our own reader on the raw layout fetch() makes (the archive unpacked where it says)."""
    from cnnpractice.smalldata.datasets import extract, prepare
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


@pytest.mark.usefixtures("loopback")
def test_aeon_downloads_the_ucr_miniature_from_the_server(mini, tmp_path, monkeypatch):
    """aeon's own Zenodo downloader (via our load_ucr), its two zenodo.org URLs redirected."""
    import urllib.request

    import aeon.datasets._data_loaders as loaders

    from cnnpractice.data.ucr_source import load_ucr
    from cnnpractice.rehearsal.server import serve

    with serve(mini[0] / "mirror") as server:
        real_urlopen = loaders.urlopen

        def redirected(req, *args, **kwargs):
            url = req.full_url
            if url.endswith("/content"):  # links.self of a file -> Zenodo's public file URL
                record, key = url.split("/records/")[1].split("/files/")
                url = mini_ucr.ZENODO_FILE_URL.format(record=record, key=key[: -len("/content")])
            return real_urlopen(
                urllib.request.Request(mirror_url(url, server.url), headers=req.headers), *args, **kwargs
            )

        monkeypatch.setattr(loaders, "urlopen", redirected)
        raw = load_ucr("FaceAll", source="download", extract_path=tmp_path)
    assert raw["source"] == "download" and raw["X_train"].shape == (14 * 3, 1, 131)
    assert sorted(p.name for p in (tmp_path / "FaceAll").iterdir()) == ["FaceAll_TEST.ts", "FaceAll_TRAIN.ts"]


@pytest.mark.usefixtures("loopback")
def test_fetch_oasis_and_cohort_from_the_server(mini, tmp_path):
    """Our OASIS download and cohort code on the miniature discs, served on loopback."""
    from cnnpractice.brain.oasis import build_oasis_cohort
    from cnnpractice.brain.oasis_fetch import OASIS1_CLINICAL_URL, OASIS1_DISC_URL, fetch_oasis
    from cnnpractice.rehearsal.server import serve

    with serve(mini[0] / "mirror") as server:
        info = fetch_oasis(
            tmp_path / "oasis",
            discs=[1, 2],
            disc_url=mirror_url(OASIS1_DISC_URL, server.url),
            clinical_url=mirror_url(OASIS1_CLINICAL_URL, server.url),
            disc_md5={},
        )
    assert sorted(info["discs"]) == ["1", "2"] and info["discs"]["1"]["sessions"] == 3
    rows = build_oasis_cohort(tmp_path / "oasis", tmp_path / "cohort", impaired_cdr=[1.0])
    assert [r["label"] for r in rows] == [0, 1, 0]  # disc 2's second subject has CDR 0.5: not selected
