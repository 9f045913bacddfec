"""Where miniature files go, and the checksum manifest written beside them.

The output folder of :func:`cnnpractice.rehearsal.miniatures.build_miniatures`::

    <out>/mirror/<host>/<path>      one file per download URL (see :func:`mirror_relpath`);
                                    what the loopback server serves
    <out>/local/imagenet/...        ImageNet as a user keeps it (it is never downloaded)
    <out>/local/torch/hub/checkpoints/<file>.pth
                                    torchvision's cache layout: point $TORCH_HOME at
                                    <out>/local/torch (hard links to the served files)
    <out>/manifest.json             every file: dataset, url (or None), path, size, md5,
                                    sha256, and ``replaces`` (the published checksum the
                                    code checks for the real file, which this one fails)
    <out>/SHA256SUMS, <out>/MD5SUMS the same digests for ``sha256sum -c`` / ``md5sum -c``
                                    (run from <out>)

A URL maps to a mirror path by the rule of ``wget --force-directories``: the host, then
the URL's path; scheme, port, query and fragment are dropped (``https://zenodo.org/api/
records/1?x=1`` -> ``zenodo.org/api/records/1``). The same rule serves a mirror given as a
base URL (``<base>/<host>/<path>``) or as a local folder, so a site can fill a mirror with
``wget -x``; :func:`cnnpractice.data.downloads.mirror_relpath` is that rule (the workflow's
``downloads.mirror`` uses the same function).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from cnnpractice.data.downloads import mirror_relpath, mirror_url
from cnnpractice.io import atomic_path, write_json, write_text

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "cnnpractice-miniatures/1"
MIRROR_DIR = "mirror"
LOCAL_DIR = "local"


def hash_path(path: Path) -> dict:
    """size, md5 and sha256 of a file, read in 1 MiB chunks."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            md5.update(chunk)
            sha.update(chunk)
    return {"size": path.stat().st_size, "md5": md5.hexdigest(), "sha256": sha.hexdigest()}


@dataclass
class Entry:
    """One file of the miniatures (a row of ``manifest.json``)."""

    dataset: str
    path: str
    url: str | None
    size: int
    md5: str
    sha256: str
    replaces: dict = field(default_factory=dict)


class Writer:
    """Writes the miniature files under ``root`` and records them for the manifest.

    ``rng(*key)`` gives an independent generator per key, seeded from ``seed`` and the
    key's text, so one dataset's bytes do not depend on which others are built.
    """

    def __init__(self, root: str | os.PathLike, seed: int = 0):
        self.root = Path(root)
        self.seed = int(seed)
        self.entries: list[Entry] = []
        self.notes: dict[str, dict] = {}

    def rng(self, *key) -> np.random.Generator:
        text = "/".join(str(k) for k in key).encode()
        return np.random.default_rng([self.seed, zlib.crc32(text)])

    def _record(self, dataset: str, path: Path, url: str | None, replaces: dict | None) -> Path:
        rel = path.relative_to(self.root).as_posix()
        self.entries = [e for e in self.entries if e.path != rel]
        self.entries.append(Entry(dataset, rel, url, **hash_path(path), replaces=dict(replaces or {})))
        return path

    def serve(self, dataset: str, url: str, data: bytes, replaces: dict | None = None) -> Path:
        """Write ``data`` at the mirror path of ``url``; ``replaces``: the published
        checksums of the real file (``{"md5": ...}``) that the code checks."""
        path = self.root / MIRROR_DIR / mirror_relpath(url)
        _write_bytes(path, data)
        return self._record(dataset, path, url, replaces)

    def local(self, dataset: str, relpath: str, data: bytes, replaces: dict | None = None) -> Path:
        """Write ``data`` at ``<root>/local/<relpath>`` (files a user provides, not downloads)."""
        path = self.root / LOCAL_DIR / relpath
        _write_bytes(path, data)
        return self._record(dataset, path, None, replaces)

    def register(self, dataset: str, path: Path, url: str | None = None, replaces: dict | None = None) -> Path:
        """Record a file written by someone else (e.g. ``torch.save``) under ``root``."""
        return self._record(dataset, Path(path), url, replaces)

    def link(self, dataset: str, source: Path, relpath: str, url: str | None = None) -> Path:
        """Hard-link (or copy) ``source`` to ``<root>/<relpath>`` and record it."""
        target = self.root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
        entry = next((e for e in self.entries if e.path == Path(source).relative_to(self.root).as_posix()), None)
        return self._record(dataset, target, url, entry.replaces if entry else None)

    def note(self, dataset: str, **info) -> None:
        """Describe a dataset's miniature in the manifest (counts, what differs from the real one)."""
        self.notes.setdefault(dataset, {}).update(info)

    def write_manifest(self) -> dict:
        """Write ``manifest.json``, ``SHA256SUMS`` and ``MD5SUMS`` under ``root``; return the manifest."""
        entries = sorted(self.entries, key=lambda e: e.path)
        manifest = {
            "format": MANIFEST_FORMAT,
            "seed": self.seed,
            "datasets": dict(sorted(self.notes.items())),
            "files": [asdict(e) for e in entries],
            "total_bytes": sum(e.size for e in entries),
        }
        write_json(self.root / MANIFEST, manifest)
        write_text(self.root / "SHA256SUMS", "".join(f"{e.sha256}  {e.path}\n" for e in entries))
        write_text(self.root / "MD5SUMS", "".join(f"{e.md5}  {e.path}\n" for e in entries))
        return manifest


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


__all__ = [
    "LOCAL_DIR",
    "MANIFEST",
    "MIRROR_DIR",
    "Entry",
    "Writer",
    "hash_path",
    "mirror_relpath",
    "mirror_url",
]
