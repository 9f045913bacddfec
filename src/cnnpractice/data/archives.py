"""Downloads, staging and safe extraction, shared by every study that fetches data.

* :func:`staged_dir`: build a folder under a hidden name beside its final
  path and rename it there only on success (a stopped job removes it; one
  killed outright leaves it for the next run of the same step to sweep).
* :func:`hash_file`: size, md5 and sha256 of a file.
* :func:`download`: stream a URL into a file, checking size and checksums.
* :func:`extract`: unpack a zip or tar archive, refusing unsafe members and
  archives past the decompression limits.
* :class:`DiskError`: an OSError while writing (full disk ...), kept apart from
  bad data so that no caller deletes a good archive for it.
* :func:`gunzip`, :func:`read_idx`: read gzip files and IDX (MNIST-format)
  arrays.

Imports only the standard library, numpy and :mod:`cnnpractice.io`.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import shutil
import tarfile
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.io import atomic_path, private_dir, sweep_stale

_CHUNK = 1 << 20


@contextlib.contextmanager
def staged_dir(final: Path, purpose: str, replace: str | None = None) -> Iterator[Path]:
    """Yield a hidden empty folder beside ``final``; rename it onto ``final`` on success.

    An existing ``final`` is replaced only when it holds the file ``replace``
    (a previous output of the same step); otherwise it must be absent or empty.
    On failure (SIGTERM included) the staging folder, and any parent folders
    created for it, go; staging folders of earlier runs killed outright are
    swept first.
    """
    created = [p for p in (final.parent, *final.parent.parents) if not p.exists()]
    final.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{final.name}.{purpose}-"
    sweep_stale(final.parent, f".{final.name}.old-{prefix}")
    stage = private_dir(final.parent, prefix)
    ok = False
    try:
        yield stage
        if final.is_dir() and any(final.iterdir()):
            if replace is None or not (final / replace).is_file():
                raise FileExistsError(f"{final} exists and is not empty; delete it and rerun")
            old = final.with_name(f".{final.name}.old-{stage.name}")
            os.replace(final, old)
            os.replace(stage, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if final.is_dir():
                final.rmdir()
            os.replace(stage, final)
        ok = True
    finally:
        if not ok:
            shutil.rmtree(stage, ignore_errors=True)
            for path in created:  # innermost first; stop at the first non-empty one
                try:
                    path.rmdir()
                except OSError:
                    break


def hash_file(path: Path) -> dict[str, Any]:
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            md5.update(chunk)
            sha.update(chunk)
    return {"size": path.stat().st_size, "md5": md5.hexdigest(), "sha256": sha.hexdigest()}


#: Sent with every request: some sites answer urllib's default ("Python-urllib/3.x") with 403.
USER_AGENT = "Mozilla/5.0 (compatible; cnnpractice/0.1; +https://github.com/) Python-urllib"

#: Decompression limits of :func:`extract` (overridable per call): members, and bytes
#: written as a multiple of the archive's size plus a floor (real archives here unpack to
#: 1-5 times their size; a "zip bomb" to thousands).
MAX_MEMBERS = 2_000_000
MAX_RATIO = 100
MIN_LIMIT_BYTES = 1 << 30


class DiskError(OSError):
    """An operating-system error (full disk, permissions, I/O) while writing a download or
    an extracted file: the data are not at fault, so nothing verified is deleted."""


def _os_error(exc: OSError) -> bool:
    """A real operating-system error (errno set), not a decoder's complaint dressed as one
    (``gzip.BadGzipFile`` is an OSError without errno)."""
    return isinstance(exc, OSError) and exc.errno is not None


def _disk_error(exc: OSError, doing: str) -> DiskError:
    err = DiskError(exc.errno, f"{doing}: {exc.strerror or exc} (an operating-system error, not bad data)")
    err.filename = exc.filename
    return err


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    sha256_prefix: str | None = None,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Stream ``url`` into the file ``dest``, checking its size and checksums.

    The data go to a temporary file beside ``dest``, renamed onto it only once
    complete and verified; on any failure no file is left behind (the temporary
    file of a job killed outright is swept by the next download of ``dest``).
    ``sha256_prefix`` checks the start of the sha256 (torch.hub's file names).

    Returns
    -------
    dict
        ``url``, ``size`` (bytes), ``md5``, ``sha256`` (hex digests of what was
        received) and ``verified`` (the checksum kinds that were checked).

    Raises
    ------
    RuntimeError
        The transfer failed or was cut short (fewer bytes than its
        Content-Length); names the URL and ``dest``.
    ValueError
        A checksum differs from the one given; names the URL, both digests.
    DiskError
        Writing ``dest`` failed (full disk, permissions): an OSError naming it.
    """
    dest = Path(dest)
    digests = {"md5": hashlib.md5(), "sha256": hashlib.sha256()}
    expected = {k: v.lower() for k, v in (("md5", md5), ("sha256", sha256), ("sha256_prefix", sha256_prefix)) if v}
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with atomic_path(dest) as tmp:
        size = 0
        try:
            out = open(tmp, "wb")
        except OSError as exc:
            raise _disk_error(exc, f"cannot write {tmp} (download of {url})") from exc
        with out:
            try:
                response = urllib.request.urlopen(request, timeout=timeout)
            except Exception as exc:
                raise RuntimeError(f"could not download {url} to {dest}: {type(exc).__name__}: {exc}") from exc
            with response:
                length = response.headers.get("Content-Length")
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except Exception as exc:
                        raise RuntimeError(
                            f"could not download {url} to {dest}: {type(exc).__name__}: {exc} after {size} bytes"
                        ) from exc
                    if not chunk:
                        break
                    try:
                        out.write(chunk)
                    except OSError as exc:
                        raise _disk_error(exc, f"writing {dest} (download of {url}, {size} bytes so far)") from exc
                    size += len(chunk)
                    for d in digests.values():
                        d.update(chunk)
        if length is not None and length.isdigit() and int(length) != size:
            raise RuntimeError(f"download of {url} to {dest} was cut short: got {size} of {length} bytes")
        got = {k: d.hexdigest() for k, d in digests.items()}
        for kind, want in expected.items():
            ok = got["sha256"].startswith(want) if kind == "sha256_prefix" else got[kind] == want
            if not ok:
                have = got["sha256"] if kind == "sha256_prefix" else got[kind]
                raise ValueError(
                    f"{url}: {kind.replace('_prefix', '')} of the downloaded file is {have}, expected "
                    f"{want}{'...' if kind == 'sha256_prefix' else ''}; the file was not kept"
                )
    return {"url": url, "size": size, **got, "verified": sorted(expected)}


def _safe_target(root: Path, member: str, archive: Path) -> Path:
    target = (root / member).resolve()
    if os.path.isabs(member) or not target.is_relative_to(root.resolve()):
        raise ValueError(f"{archive}: member {member!r} would be extracted outside {root}")
    return target


class _Budget:
    """Counts members and bytes against the limits; ValueError naming the archive past them."""

    def __init__(self, archive: Path, max_members: int | None, max_bytes: int | None):
        self.archive, self.members, self.bytes = archive, 0, 0
        self.max_members = MAX_MEMBERS if max_members is None else int(max_members)
        self.max_bytes = (
            max(MIN_LIMIT_BYTES, MAX_RATIO * archive.stat().st_size) if max_bytes is None else int(max_bytes)
        )

    def add(self, name: str, size: int) -> None:
        self.members += 1
        self.bytes += max(int(size), 0)
        if self.members > self.max_members:
            raise ValueError(
                f"{self.archive}: more than {self.max_members:,} members (decompression limit max_members); "
                "not unpacked"
            )
        if self.bytes > self.max_bytes:
            raise ValueError(
                f"{self.archive}: unpacks to more than {self.max_bytes:,} bytes (at member {name!r}; "
                "decompression limit max_bytes); not unpacked"
            )


def extract(
    archive: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    max_members: int | None = None,
    max_bytes: int | None = None,
) -> int:
    """Unpack a ``.zip`` or ``.tar[.gz|.bz2|.xz]``/``.tgz`` archive into ``dest``.

    Members whose path would leave ``dest`` (absolute, ``..``), and links and
    device files inside tars, are refused. Decompression is limited to
    ``max_members`` members (default :data:`MAX_MEMBERS`) and ``max_bytes``
    bytes (default: :data:`MAX_RATIO` times the archive's size, at least
    :data:`MIN_LIMIT_BYTES`); a zip's declared sizes are checked before anything
    is written, a tar's as it streams. Returns the number of files written.

    Raises
    ------
    ValueError
        A corrupt, truncated or unsafe archive, or one past the limits; the
        message names it.
    DiskError
        Writing into ``dest`` failed (full disk, permissions, I/O): an OSError
        naming the archive and folder, never reported as a corrupt archive.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    budget = _Budget(archive, max_members, max_bytes)
    try:
        if archive.suffix.lower() == ".zip" or zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                members = zf.infolist()
                for m in members:
                    _safe_target(dest, m.filename, archive)
                    if (m.external_attr >> 16) & 0o170000 == 0o120000:
                        raise ValueError(f"{archive}: member {m.filename!r} is a symbolic link")
                    budget.add(m.filename, m.file_size)  # zipfile stops at the declared size
                zf.extractall(dest)  # checks each member's CRC while reading it
                return sum(not m.is_dir() for m in members)
        if archive.name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
            with tarfile.open(archive) as tf:
                n = 0
                for m in tf:  # streams: no second pass over a large tar.gz
                    _safe_target(dest, m.name, archive)
                    if not (m.isfile() or m.isdir()):
                        raise ValueError(f"{archive}: member {m.name!r} is not a regular file")
                    budget.add(m.name, m.size)
                    tf.extract(
                        m, dest, set_attrs=False, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {})
                    )
                    n += m.isfile()
                return n
        raise ValueError(f"{archive}: not a zip or tar archive")
    except OSError as exc:
        if _os_error(exc):
            raise _disk_error(exc, f"unpacking {archive} into {dest}") from exc
        raise ValueError(f"{archive}: corrupt or truncated archive ({type(exc).__name__}: {exc})") from exc
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
        raise ValueError(f"{archive}: corrupt or truncated archive ({type(exc).__name__}: {exc})") from exc


_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def gunzip(path: Path) -> bytes:
    """The decompressed content of a gzip file; ValueError naming it when unreadable."""
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: not a readable gzip file ({type(exc).__name__}: {exc})") from exc


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed when it ends in ``.gz``.

    Returns a read-only array of the stored shape and (native-endian) dtype.
    Raises ValueError naming the file when it is truncated, not gzip, has a
    bad magic number or a size that does not match its header.
    """
    path = Path(path)
    data = gunzip(path) if path.suffix == ".gz" else path.read_bytes()
    if len(data) < 4 or data[0] or data[1] or data[2] not in _IDX_DTYPES or not data[3]:
        raise ValueError(f"{path}: not an IDX file (magic number {data[:4].hex() or 'missing'})")
    ndim, dtype = data[3], np.dtype(_IDX_DTYPES[data[2]])
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: IDX header truncated ({len(data)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"{path}: IDX header says shape {shape} ({expected} bytes) but the "
            f"file holds {len(data)} bytes; it is truncated or corrupt"
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


__all__ = ["DiskError", "download", "extract", "gunzip", "hash_file", "read_idx", "staged_dir"]
