"""Download hardening (cnnpractice.data.downloads, .archives, .torch_weights): mirrors,
checksum overrides and first-download records, transfers cut short, decompression limits,
a full disk, leftovers of killed jobs. Network: loopback only (rehearsal_support.loopback)
or file:// URLs."""

from __future__ import annotations

import errno
import hashlib
import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest
from rehearsal_support import loopback  # noqa: F401  (fixture)

from cnnpractice.data import archives
from cnnpractice.data.archives import DiskError
from cnnpractice.data.downloads import Downloads, cache_relpath, load_manifest, mirror_relpath, mirror_url
from cnnpractice.io import owner_tag

URL = "https://data.example.org/sets/thing.zip"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mirror_with(tmp_path: Path, url: str, data: bytes) -> Path:
    """A mirror folder holding ``data`` at ``url``'s place (wget -x's layout)."""
    path = tmp_path / "mirror" / mirror_relpath(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return tmp_path / "mirror"


# --------------------------------------------------------------------------- where


@pytest.mark.parametrize(
    "url, rel",
    [
        ("https://zenodo.org/api/records/1?x=1", "zenodo.org/api/records/1"),
        ("http://Host.ORG:8080/a%20b/c.tgz#frag", "host.org/a b/c.tgz"),
        ("https://zenodo.org/records/5/files/X_TRAIN.ts?download=1", "zenodo.org/records/5/files/X_TRAIN.ts"),
    ],
)
def test_mirror_paths(url, rel):
    assert str(mirror_relpath(url)) == rel
    assert mirror_url(url, "http://127.0.0.1:9/m/") == "http://127.0.0.1:9/m/" + rel.replace(" ", "%20")


@pytest.mark.parametrize("url", ["https://host.org/", "https://host.org/a/../../etc/passwd", "no-host"])
def test_unmappable_urls_are_refused(url):
    with pytest.raises(ValueError, match="cannot be mapped into a mirror"):
        mirror_relpath(url)


def test_file_urls_are_cached_under_file(tmp_path):
    assert cache_relpath((tmp_path / "x.zip").as_uri()).parts[0] == "file"


def test_mirror_folder_missing_file_names_the_place(tmp_path):
    (tmp_path / "mirror").mkdir()
    with pytest.raises(FileNotFoundError, match="has no data.example.org/sets/thing.zip.*wget -x"):
        Downloads(mirror=str(tmp_path / "mirror")).fetch(URL, tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()


def test_per_dataset_override_wins(tmp_path):
    settings = {"mirror": "http://127.0.0.1:1/all", "overrides": {"oasis": str(tmp_path)}}
    assert Downloads.from_config(settings, "oasis").mirror == str(tmp_path)
    assert Downloads.from_config(settings, "food101").mirror == "http://127.0.0.1:1/all"
    with pytest.raises(ValueError, match="unknown download dataset 'oasiss'"):
        Downloads.from_config(settings, "oasiss")


# --------------------------------------------------------------------------- what is checked


def manifest(tmp_path: Path, data: bytes, replaces: dict, url: str = URL) -> dict:
    path = tmp_path / "manifest.json"
    entry = {"dataset": "x", "path": "mirror/x", "url": url, "md5": md5(data), "sha256": sha256(data)}
    path.write_text(json.dumps({"files": [{**entry, "size": len(data), "replaces": replaces}]}))
    return load_manifest(path)


def test_manifest_replaces_only_the_value_it_names(tmp_path):
    data, published = b"miniature", md5(b"the real file")
    downloads = Downloads(
        mirror=str(mirror_with(tmp_path, URL, data)), checksums=manifest(tmp_path, data, {"md5": published})
    )
    info = downloads.fetch(URL, tmp_path / "out.zip", md5=published)
    assert info["verified"] == ["md5", "sha256"] and info["md5"] == md5(data)
    # the code's published value changed (or another file): the stale entry is an error
    with pytest.raises(ValueError, match="replaces .*but the workflow checks .*stale"):
        downloads.fetch(URL, tmp_path / "out2.zip", md5="f" * 32)
    assert not (tmp_path / "out2.zip").exists()


def test_without_the_manifest_the_published_checksum_refuses_the_miniature(tmp_path):
    data = b"miniature"
    downloads = Downloads(mirror=str(mirror_with(tmp_path, URL, data)))
    with pytest.raises(ValueError, match="md5 of the downloaded file .*the file was not kept"):
        downloads.fetch(URL, tmp_path / "out.zip", md5=md5(b"the real file"))


def test_first_download_is_recorded_and_later_ones_compared(tmp_path):
    mirror = mirror_with(tmp_path, URL, b"first")
    downloads = Downloads(mirror=str(mirror), folder=tmp_path / "downloads")
    info = downloads.fetch(URL, tmp_path / "a.zip")
    assert info["recorded"] and info["verified"] == []
    assert downloads.recorded(URL) == sha256(b"first")
    assert downloads.fetch(URL, tmp_path / "b.zip")["verified"] == ["sha256"]
    (mirror / mirror_relpath(URL)).write_bytes(b"changed on the server")
    with pytest.raises(ValueError, match=f"expected {sha256(b'first')}"):
        downloads.fetch(URL, tmp_path / "c.zip")
    assert not (tmp_path / "c.zip").exists()


def test_metadata_is_not_recorded(tmp_path):
    downloads = Downloads(mirror=str(mirror_with(tmp_path, URL, b"{}")), folder=tmp_path / "downloads")
    assert not downloads.fetch(URL, tmp_path / "record.json", record=False)["recorded"]
    assert downloads.recorded(URL) is None


# --------------------------------------------------------------------------- transfers cut short


class _ShortHandler(http.server.BaseHTTPRequestHandler):
    """Announces 10,000 bytes, sends 4,000, closes."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "10000")
        self.end_headers()
        self.wfile.write(b"x" * 4000)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.mark.usefixtures("loopback")
def test_download_cut_short_against_content_length(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ShortHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/file.bin"
        with pytest.raises(RuntimeError, match=r"cut short: got 4000 of 10000 bytes|IncompleteRead") as err:
            archives.download(url, tmp_path / "out" / "file.bin")
    finally:
        server.shutdown()
        server.server_close()
    assert url in str(err.value)
    assert list((tmp_path / "out").iterdir()) == []  # no file, no temporary file


# --------------------------------------------------------------------------- decompression limits


def zeros_zip(path: Path, size: int, members: int = 1) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(members):
            zf.writestr(f"z/{i}.bin", bytes(size // members))
    return path


def test_archive_over_the_size_limit_is_refused_before_writing(tmp_path):
    archive = zeros_zip(tmp_path / "bomb.zip", 20_000_000)
    assert archive.stat().st_size < 100_000  # 200 times smaller than what it unpacks to
    with pytest.raises(ValueError, match=r"bomb.zip: unpacks to more than 1,000,000 bytes.*max_bytes"):
        archives.extract(archive, tmp_path / "out", max_bytes=1_000_000)
    assert list((tmp_path / "out").iterdir()) == []


def test_default_limit_is_a_multiple_of_the_archive_size(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "MIN_LIMIT_BYTES", 0)
    with pytest.raises(ValueError, match="decompression limit max_bytes"):
        archives.extract(zeros_zip(tmp_path / "bomb.zip", 20_000_000), tmp_path / "out")
    with zipfile.ZipFile(tmp_path / "ok.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("photo.jpg", os.urandom(20_000))  # incompressible, as images are
    assert archives.extract(tmp_path / "ok.zip", tmp_path / "out2") == 1


def test_tar_over_the_member_limit_is_refused(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for i in range(50):
            info = tarfile.TarInfo(f"m/{i}.txt")
            info.size = 1
            tf.addfile(info, io.BytesIO(b"1"))
    (tmp_path / "many.tar.gz").write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="many.tar.gz: more than 20 members"):
        archives.extract(tmp_path / "many.tar.gz", tmp_path / "out", max_members=20)


# --------------------------------------------------------------------------- a full disk


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", "/resources/smalldata/x")


def test_full_disk_while_extracting_is_an_os_error_not_a_corrupt_archive(tmp_path, monkeypatch):
    archive = zeros_zip(tmp_path / "fine.zip", 1000)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", full_disk)
    with pytest.raises(DiskError, match="No space left on device.*not bad data") as err:
        archives.extract(archive, tmp_path / "out")
    assert err.value.errno == errno.ENOSPC and "corrupt" not in str(err.value)


def test_full_disk_while_downloading_is_an_os_error(tmp_path, monkeypatch):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 5000)
    real_open = open

    def open_full(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if "w" in mode and ".tmp" in str(path):
            handle.write = full_disk
        return handle

    monkeypatch.setattr("builtins.open", open_full)
    with pytest.raises(DiskError, match="writing .*out.bin.*No space left") as err:
        archives.download(src.as_uri(), tmp_path / "out" / "out.bin")
    assert err.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert list((tmp_path / "out").iterdir()) == []


def uc_merced_zip(path: Path) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for cls in ("agricultural", "beach"):
            for i in range(3):
                img = io.BytesIO()
                Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(img, "TIFF")
                zf.writestr(f"UCMerced_LandUse/Images/{cls}/{cls}{i:02d}.tif", img.getvalue())
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def test_full_disk_keeps_the_verified_archive_and_the_rerun_uses_it(tmp_path, monkeypatch):
    from cnnpractice.smalldata import datasets as ds

    src = tmp_path / "site" / "UCMerced_LandUse.zip"
    src.parent.mkdir()
    data = uc_merced_zip(src)
    item = {**ds.DATASETS["uc_merced"]["downloads"][0], "urls": [src.as_uri()], "md5": md5(data)}
    monkeypatch.setitem(ds.DATASETS, "uc_merced", {**ds.DATASETS["uc_merced"], "downloads": [item]})
    downloads = Downloads(folder=tmp_path / "resources" / "downloads", dataset="uc_merced")
    raw = tmp_path / "resources" / "smalldata" / "raw" / "uc_merced"
    kept = downloads.folder / cache_relpath(src.as_uri())

    with monkeypatch.context() as m:
        m.setattr(zipfile.ZipFile, "extractall", full_disk)
        with pytest.raises(OSError, match=f"No space left on device.*kept at {kept}") as err:
            ds.fetch("uc_merced", raw, downloads=downloads)
    assert err.value.errno == errno.ENOSPC and "corrupt" not in str(err.value)
    assert kept.read_bytes() == data and not raw.exists()

    src.unlink()  # the site is gone: the rerun must use the kept (and re-checked) archive
    info = ds.fetch("uc_merced", raw, downloads=downloads)
    assert info["files"][0]["verified"] == ["md5"] and info["files"][0]["extracted_files"] == 6
    assert not kept.exists()  # unpacked: deleted


def test_corrupt_unverified_archive_is_removed_with_its_record(tmp_path):
    src = tmp_path / "site" / "thing.zip"
    src.parent.mkdir()
    src.write_bytes(b"PK\x03\x04" + bytes(100))
    downloads = Downloads(folder=tmp_path / "downloads")
    archive, info = downloads.fetch_cached(src.as_uri())
    assert info["recorded"] and downloads.recorded(src.as_uri())
    with pytest.raises(ValueError, match="corrupt or truncated.*removed, to be downloaded again"):
        downloads.unpack(src.as_uri(), archive, info, tmp_path / "out")
    assert not archive.exists() and downloads.recorded(src.as_uri()) is None
    assert not (tmp_path / "downloads").exists()  # no empty folders left either


# --------------------------------------------------------------------------- killed jobs


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_leftovers_of_a_killed_fetch_are_swept_on_rerun(tmp_path, monkeypatch):
    """A fetch killed outright leaves its staging folder (beside the dataset's folder) and a
    half-written download (in the downloads folder); the next run removes both."""
    from cnnpractice.smalldata import datasets as ds

    src = tmp_path / "site" / "UCMerced_LandUse.zip"
    src.parent.mkdir()
    data = uc_merced_zip(src)
    item = {**ds.DATASETS["uc_merced"]["downloads"][0], "urls": [src.as_uri()], "md5": md5(data)}
    monkeypatch.setitem(ds.DATASETS, "uc_merced", {**ds.DATASETS["uc_merced"], "downloads": [item]})
    downloads = Downloads(folder=tmp_path / "downloads")
    raw = tmp_path / "raw" / "uc_merced"
    tag = owner_tag().replace(str(os.getpid()), str(dead_pid()))
    stage = raw.parent / f".uc_merced.fetch-{tag}-abcdefgh"
    (stage / "UCMerced_LandUse").mkdir(parents=True)
    kept = downloads.folder / cache_relpath(src.as_uri())
    kept.parent.mkdir(parents=True)
    partial = kept.parent / f".UCMerced_LandUse.{tag}.abcdefgh.tmp.zip"
    partial.write_bytes(data[:100])

    ds.fetch("uc_merced", raw, downloads=downloads)
    assert not stage.exists() and not partial.exists()
    assert sorted(p.name for p in raw.parent.iterdir()) == ["uc_merced"]


# --------------------------------------------------------------------------- torchvision weights


def test_known_weights_are_torchvisions():
    import torchvision

    from cnnpractice.data.torch_weights import KNOWN, sha256_prefix

    for (arch, weights), url in KNOWN.items():
        assert torchvision.models.get_model_weights(arch)[weights].url == url
        assert len(sha256_prefix(url)) >= 8


def test_weights_checked_against_the_prefix_in_their_name(tmp_path):
    from cnnpractice.data.torch_weights import fetch_weights

    data = b"not really weights"
    url = f"https://download.pytorch.org/models/net-{sha256(data)[:8]}.pth"
    mirror = mirror_with(tmp_path, url, data)
    info = fetch_weights(url, tmp_path / "torch", Downloads(mirror=str(mirror)))
    assert info["verified"] == ["sha256_prefix"]
    assert (tmp_path / "torch" / "hub" / "checkpoints" / f"net-{sha256(data)[:8]}.pth").read_bytes() == data
    bad = "https://download.pytorch.org/models/net-00000000.pth"
    mirror_with(tmp_path, bad, data)
    with pytest.raises(ValueError, match="sha256 of the downloaded file is .*expected 00000000..."):
        fetch_weights(bad, tmp_path / "torch", Downloads(mirror=str(mirror)))
