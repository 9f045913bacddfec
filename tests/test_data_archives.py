"""Tests of cnnpractice.data.archives: downloads (``file://`` URLs only: no test reaches the
network), safe extraction of zip and tar archives, and the IDX reader."""

from __future__ import annotations

import gzip
import hashlib
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnnpractice.data import archives


def write_idx(path: Path, array: np.ndarray, code: int) -> None:
    """An IDX file written by hand: magic 00 00 <type> <ndim>, big-endian dims, data."""
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    gzip_data = gzip.compress(header + array.astype(array.dtype.newbyteorder(">")).tobytes())
    path.write_bytes(gzip_data)


# ---------------------------------------------------------------------------
# IDX reader
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "array, code",
    [
        (np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4), 0x08),
        (np.array([7, 0, 255], dtype=np.uint8), 0x08),
        (np.array([[-5, 70000]], dtype=np.int32), 0x0C),
    ],
)
def test_read_idx_round_trip(tmp_path, array, code):
    path = tmp_path / "x-idx.gz"
    write_idx(path, array, code)
    back = archives.read_idx(path)
    assert back.shape == array.shape and back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)


def _good_idx() -> bytes:
    return bytes([0, 0, 8, 2]) + struct.pack(">2I", 2, 3) + bytes(range(6))


@pytest.mark.parametrize(
    "content, message",
    [
        (gzip.compress(_good_idx())[:-12], "not a readable gzip file"),  # truncated .gz
        (b"this is not gzip at all", "not a readable gzip file"),
        (gzip.compress(b"\x00\x00\x08"), "not an IDX file"),
        (gzip.compress(bytes([8, 0, 8, 2]) + _good_idx()[4:]), "not an IDX file"),  # bad magic
        (gzip.compress(bytes([0, 0, 8, 3]) + _good_idx()[4:]), "header says shape"),
        (gzip.compress(_good_idx()[:-1]), "truncated or corrupt"),
        (gzip.compress(_good_idx() + b"\x00"), "truncated or corrupt"),
    ],
)
def test_read_idx_corrupt_names_file(tmp_path, content, message):
    path = tmp_path / "broken-idx3-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as err:
        archives.read_idx(path)
    assert str(path) in str(err.value)


# ---------------------------------------------------------------------------
# downloads and archives
# ---------------------------------------------------------------------------


def test_download_file_url(tmp_path):
    src = tmp_path / "payload.bin"
    src.write_bytes(b"x" * 3_000_000)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    info = archives.download(src.as_uri(), tmp_path / "out" / "p.bin", md5=md5, sha256=sha)
    assert info["size"] == 3_000_000 and info["verified"] == ["md5", "sha256"]
    assert (tmp_path / "out" / "p.bin").read_bytes() == src.read_bytes()


@pytest.mark.parametrize("kw", [{"md5": "0" * 32}, {"sha256": "f" * 64}])
def test_download_wrong_checksum_leaves_nothing(tmp_path, kw):
    src = tmp_path / "payload.bin"
    src.write_bytes(b"abc")
    dest = tmp_path / "out" / "p.bin"
    with pytest.raises(ValueError, match="the file was not kept") as err:
        archives.download(src.as_uri(), dest, **kw)
    assert src.as_uri() in str(err.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_download_missing_url(tmp_path):
    url = (tmp_path / "absent.zip").as_uri()
    with pytest.raises(RuntimeError, match="could not download") as err:
        archives.download(url, tmp_path / "out" / "a.zip")
    assert url in str(err.value)
    assert list((tmp_path / "out").iterdir()) == []


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("damage", ["truncate", "garbage", "crc"])
def test_extract_corrupt_zip_names_it(tmp_path, damage):
    archive = _zip(tmp_path / "data.zip", {"a/b.txt": b"hello world" * 100})
    data = archive.read_bytes()
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = b"PK\x03\x04 definitely not a zip"
    else:  # flip a byte of the stored payload: the CRC check fails
        i = data.index(b"hello")
        data = data[:i] + b"J" + data[i + 1 :]
    archive.write_bytes(data)
    with pytest.raises(ValueError, match="corrupt or truncated archive") as err:
        archives.extract(archive, tmp_path / "out")
    assert str(archive) in str(err.value)


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "ok/../../evil.txt"])
def test_extract_rejects_escaping_members(tmp_path, member):
    archive = _zip(tmp_path / "evil.zip", {"fine.txt": b"1", member: b"2"})
    with pytest.raises(ValueError, match="outside"):
        archives.extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_extract_tar(tmp_path):
    import io
    import tarfile

    def tar(path, members, link=None):
        with tarfile.open(path, "w:gz") as tf:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            if link:
                info = tarfile.TarInfo(link)
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tf.addfile(info)
        return path

    good = tar(tmp_path / "good.tar.gz", {"food-101/meta/classes.txt": b"a\n", "x/y.bin": b"1"})
    assert archives.extract(good, tmp_path / "out") == 2
    assert (tmp_path / "out" / "food-101" / "meta" / "classes.txt").read_bytes() == b"a\n"
    with pytest.raises(ValueError, match="outside"):
        archives.extract(tar(tmp_path / "bad.tgz", {"../evil": b"2"}), tmp_path / "out2")
    with pytest.raises(ValueError, match="not a regular file"):
        archives.extract(tar(tmp_path / "link.tgz", {}, link="passwd"), tmp_path / "out3")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[:-30])
    with pytest.raises(ValueError, match="cut.tar.gz: corrupt or truncated"):
        archives.extract(cut, tmp_path / "out4")
