"""Tests of cnnpractice.data.ucr_source: shipped UCR datasets and downloads.

No test touches the network: the autouse fixture in conftest.py makes every socket connection
fail (and records the attempt), and the download tests replace ``urlopen`` with a fake
Zenodo (the record's JSON, then each file it lists, md5-checked).
"""

from __future__ import annotations

import io
import json
from urllib.error import HTTPError, URLError

import numpy as np
import pytest

from cnnpractice.data import ucr, ucr_source

# ---------------------------------------------------------------------------
# shipped data and argument checks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ucr_source.SHIPPED))
def test_shipped_files_exist(name):
    files = ucr_source.shipped_files(name)
    assert files is not None, f"{name} is listed in SHIPPED but not bundled with aeon"
    assert all(f.stat().st_size > 0 for f in files)


def test_not_shipped():
    assert ucr_source.shipped_files("Adiac") is None
    with pytest.raises(ValueError, match="'Adiac' is not shipped"):
        ucr_source.load_ucr("Adiac", source="shipped")


def test_auto_prefers_shipped(tmp_path):
    raw = ucr_source.load_ucr("GunPoint", source="auto", extract_path=tmp_path / "cache")
    assert raw["source"] == "shipped"
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("name", ["../GunPoint", "Gun Point", "", "a/b"])
def test_bad_name(name):
    with pytest.raises(ValueError, match="invalid UCR dataset name"):
        ucr_source.load_ucr(name)


# ---------------------------------------------------------------------------
# downloads, against a fake Zenodo
# ---------------------------------------------------------------------------

RECORD = 11191244  # aeon's Zenodo record of GunPoint
API = f"https://zenodo.org/api/records/{RECORD}"


class Response(io.BytesIO):
    """A urlopen response whose body may break after ``fail_after`` bytes."""

    def __init__(self, body: bytes, fail_after: int | None = None):
        super().__init__(body)
        self.fail_after = fail_after
        self.headers = {}

    def read(self, n=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        if self.fail_after is not None:
            n = self.fail_after - self.tell() if n is None or n < 0 else min(n, self.fail_after - self.tell())
        return super().read(n)


def fake_zenodo(monkeypatch, files: dict[str, bytes], broken: dict[str, object] | None = None, md5=None):
    """Serve ``files`` as Zenodo record RECORD (its JSON lists each file's md5, or ``md5[key]``)
    through the urlopen our downloads use.

    ``broken`` maps a file name (or "record") to an exception to raise when it is
    requested, or to a byte count after which its body breaks.
    """
    import hashlib
    import urllib.request

    broken, md5 = broken or {}, md5 or {}
    requested = []

    def urlopen(req, timeout=None):
        url = getattr(req, "full_url", req)
        requested.append(url)
        if url == API:
            if isinstance(broken.get("record"), Exception):
                raise broken["record"]
            record = {
                "files": [
                    {
                        "key": k,
                        "checksum": f"md5:{md5.get(k) or hashlib.md5(v).hexdigest()}",
                        "links": {"self": f"{API}/files/{k}/content"},
                    }
                    for k, v in files.items()
                ]
            }
            return Response(json.dumps(record).encode())
        assert url.startswith(f"https://zenodo.org/records/{RECORD}/files/"), url
        key = url.split("/files/")[1].split("?")[0]
        fault = broken.get(key)
        if isinstance(fault, Exception):
            raise fault
        return Response(files[key], fail_after=fault)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return requested


def gunpoint_files():
    train, test = ucr_source.shipped_files("GunPoint")
    return {"GunPoint_TRAIN.ts": train.read_bytes(), "GunPoint_TEST.ts": test.read_bytes()}


def test_download_then_cache(monkeypatch, tmp_path):
    cache = tmp_path / "resources" / "ucr_archive"
    requested = fake_zenodo(monkeypatch, gunpoint_files())
    raw = ucr_source.load_ucr("GunPoint", source="download", extract_path=cache)
    assert raw["source"] == "download" and requested[0] == API
    assert sorted(p.name for p in cache.iterdir()) == ["GunPoint"]  # no staging leftovers
    assert sorted(p.name for p in (cache / "GunPoint").iterdir()) == ["GunPoint_TEST.ts", "GunPoint_TRAIN.ts"]
    shipped = ucr_source.load_ucr("GunPoint", source="shipped")
    for key in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(raw[key], shipped[key])

    # second time: read from the cache, no request at all
    requested.clear()
    out = tmp_path / "out"
    assert ucr.materialize_ucr("GunPoint", out, source="download", extract_path=cache)["n_test"] == 150
    assert requested == []


def test_download_replaces_partial_leftover(monkeypatch, tmp_path):
    """A half-downloaded dataset dir left by aeon itself is not mistaken for data."""
    (tmp_path / "GunPoint").mkdir()
    (tmp_path / "GunPoint" / "GunPoint_TRAIN.ts").write_text("@problemName GunPoint\n@data\n1,2")
    fake_zenodo(monkeypatch, gunpoint_files())
    raw = ucr_source.load_ucr("GunPoint", source="download", extract_path=tmp_path)
    assert len(raw["y_train"]) == 50
    assert sorted(p.name for p in (tmp_path / "GunPoint").iterdir()) == ["GunPoint_TEST.ts", "GunPoint_TRAIN.ts"]


DOWNLOAD_FAILURES = {
    "record_unreachable": ({}, {"record": URLError("Name or service not known")}),
    "train_breaks_midway": ({}, {"GunPoint_TRAIN.ts": 1000}),
    "test_http_error": ({}, {"GunPoint_TEST.ts": HTTPError(API, 503, "Service Unavailable", {}, None)}),
    "record_without_split_files": ({"GunPoint.zip": b"PK\x05\x06" + bytes(18)}, {}),
    "md5_differs_from_record": ({}, {}),
    "html_instead_of_data": (
        {"GunPoint_TRAIN.ts": b"<html>rate limited</html>", "GunPoint_TEST.ts": b"<html>rate limited</html>"},
        {},
    ),
}


@pytest.mark.parametrize("case", DOWNLOAD_FAILURES)
@pytest.mark.parametrize("cache_exists", [False, True], ids=["new_cache", "existing_cache"])
def test_failed_download(monkeypatch, tmp_path, case, cache_exists):
    files, broken = DOWNLOAD_FAILURES[case]
    cache = tmp_path / "resources" / "ucr_archive"
    if cache_exists:
        (cache / "Other").mkdir(parents=True)
        (cache / "Other" / "Other_TRAIN.ts").write_text("keep me")
    md5 = {"GunPoint_TEST.ts": "0" * 32} if case == "md5_differs_from_record" else None
    requested = fake_zenodo(monkeypatch, files or gunpoint_files(), broken, md5)

    with pytest.raises(RuntimeError) as err:
        ucr.materialize_ucr("GunPoint", tmp_path / "out", source="download", extract_path=cache)
    msg = str(err.value)
    assert "'GunPoint'" in msg and API in msg
    assert requested and requested[0] == API

    if cache_exists:  # untouched: nothing added, nothing removed
        assert sorted(str(p.relative_to(cache)) for p in cache.rglob("*")) == ["Other", "Other/Other_TRAIN.ts"]
        assert (cache / "Other" / "Other_TRAIN.ts").read_text() == "keep me"
    else:  # the directories the attempt created are gone again
        assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_unknown_dataset_not_downloaded(monkeypatch, tmp_path):
    requested = fake_zenodo(monkeypatch, {})
    with pytest.raises(ValueError, match="unknown UCR dataset 'GunPont'.*GunPoint"):
        ucr_source.load_ucr("GunPont", source="download", extract_path=tmp_path)
    assert requested == []


def test_unreadable_cache(monkeypatch, tmp_path):
    (tmp_path / "GunPoint").mkdir()
    for split in ("TRAIN", "TEST"):
        (tmp_path / "GunPoint" / f"GunPoint_{split}.ts").write_text("garbage")
    requested = fake_zenodo(monkeypatch, gunpoint_files())
    with pytest.raises(ValueError, match="cached copy in .*GunPoint could not be read"):
        ucr_source.load_ucr("GunPoint", source="download", extract_path=tmp_path)
    assert requested == []
