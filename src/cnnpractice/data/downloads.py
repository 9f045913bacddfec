"""Where downloads come from and what they are checked against (the ``downloads`` config).

* :func:`mirror_relpath`: the path of a URL inside a mirror, ``<host>/<path>`` (the layout
  ``wget --force-directories`` makes, so a site can fill a mirror with ``wget -x``).
* :class:`Downloads`: one dataset's settings (``mirror``, per-dataset ``overrides``, a
  checksum manifest, the folder of recorded checksums) and :meth:`Downloads.fetch`, which
  every download of the workflow goes through.

Checks, in order (:meth:`Downloads.expected`):

1. the checksum the code holds for the URL (published by the dataset's authors, by
   torchvision, by the Zenodo record or nltk's index), or, for the rehearsal only, the
   entry of ``downloads.checksums`` (a manifest of miniatures) that *replaces* it: an
   entry is used only when its ``replaces`` names exactly the value the code holds, so a
   stale manifest is an error, never a check switched off;
2. where nothing is published, the sha256 recorded when the URL was first downloaded
   (``<folder>/<host>/<path>.sha256``, ``folder`` being ``resources/downloads`` in the
   workflow): later downloads must match it.

Archives wait in the same folder (``<folder>/<host>/<path>``, :meth:`Downloads.fetch_cached`)
until they are unpacked, so a failure while unpacking (a full disk) does not cost the
download.

With a mirror set, the original URL is never tried: a site that sets one does so on
purpose, and the rehearsal can never reach the internet. A mirror is a base URL
(``http://host:port/prefix``) or a local folder; a folder's files are read through the
same size and checksum checks (``file://``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from cnnpractice.data.archives import DiskError, download, extract, hash_file
from cnnpractice.io import write_text

log = logging.getLogger("cnnpractice.data")

#: Dataset keys of ``downloads.overrides`` (and of the miniatures' manifest).
DATASETS = (
    "ucr",
    "fashion_mnist",
    "flowers102",
    "food101",
    "uc_merced",
    "brazilian_coffee",
    "cifar100",
    "imagenet",
    "oasis",
    "harvard_oxford",
    "torchvision_weights",
    "wordnet",
)
_KINDS = ("md5", "sha256", "sha256_prefix")


def mirror_relpath(url: str) -> PurePosixPath:
    """The path of ``url`` inside a mirror: ``<host>/<path>``; scheme, port, query and
    fragment are dropped (``https://zenodo.org/api/records/1?x=1`` -> ``zenodo.org/api/records/1``).

    Raises ValueError naming the URL when it has no host or file name, or a path segment
    that would leave the mirror (``..``).
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if not host or not segments or any(s in (".", "..") or "/" in s or "\\" in s for s in segments):
        raise ValueError(f"URL {url!r} cannot be mapped into a mirror: it needs a host and a file path without '..'")
    return PurePosixPath(host, *segments)


def cache_relpath(url: str) -> PurePosixPath:
    """Where ``url``'s file and record go inside a downloads folder: :func:`mirror_relpath`,
    or ``file/<path>`` for a ``file://`` URL (a local copy has no host)."""
    parts = urlsplit(url)
    if parts.scheme == "file" and not parts.hostname:
        segments = [unquote(s) for s in parts.path.split("/") if s not in ("", ".", "..")]
        return PurePosixPath("file", *segments)
    return mirror_relpath(url)


def mirror_url(url: str, base: str) -> str:
    """``url`` redirected to the mirror at the base URL ``base``."""
    return base.rstrip("/") + "/" + "/".join(quote(s) for s in mirror_relpath(url).parts)


def _is_url(text: str) -> bool:
    return urlsplit(text).scheme in ("http", "https", "file", "ftp")


def load_manifest(path: str | os.PathLike) -> dict[str, dict]:
    """The entries of a miniatures manifest (``cnnpractice.rehearsal``) by the URL's
    :func:`mirror_relpath` (scheme and query do not matter), and those without a URL (files
    a user provides, e.g. ImageNet's) by ``local:<file name>``."""
    path = Path(path)
    try:
        files = json.loads(path.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"downloads.checksums: {path} is not a readable manifest ({exc})") from exc
    entries = {}
    for entry in files:
        key = str(mirror_relpath(entry["url"])) if entry.get("url") else f"local:{PurePosixPath(entry['path']).name}"
        entries[key] = {**entry, "manifest": str(path)}
    return entries


@dataclass(frozen=True)
class Downloads:
    """How one dataset's files are fetched and checked.

    Attributes
    ----------
    mirror : base URL or folder standing in for every URL (None: the original URLs).
    checksums : manifest entries (see :func:`load_manifest`) replacing published checksums.
    folder : where archives wait and first-download sha256s are recorded (None: nothing
        recorded; :meth:`fetch_cached` then needs one).
    dataset : the dataset's key, for messages.
    """

    mirror: str | None = None
    checksums: Mapping[str, dict] = field(default_factory=dict)
    folder: Path | None = None
    dataset: str = ""

    @classmethod
    def from_config(
        cls, settings: Mapping[str, Any] | None, dataset: str, folder: str | os.PathLike | None = None
    ) -> Downloads:
        """From the config's ``downloads`` section: ``overrides[dataset]`` else ``mirror``;
        ``checksums`` (a manifest path) loaded."""
        settings = dict(settings or {})
        if dataset not in DATASETS:
            raise ValueError(f"unknown download dataset {dataset!r}; known: {list(DATASETS)}")
        mirror = (settings.get("overrides") or {}).get(dataset) or settings.get("mirror")
        manifest = settings.get("checksums")
        return cls(
            mirror=str(mirror) if mirror else None,
            checksums=load_manifest(manifest) if manifest else {},
            folder=Path(folder) if folder else None,
            dataset=dataset,
        )

    def with_folder(self, default: str | os.PathLike) -> Downloads:
        """These settings, with ``default`` as the folder when none is set."""
        return self if self.folder is not None else replace(self, folder=Path(default))

    # ------------------------------------------------------------------ where

    def source(self, url: str) -> str:
        """The URL actually requested for ``url``: itself, or its place in the mirror."""
        if not self.mirror:
            return url
        if _is_url(self.mirror):
            return mirror_url(url, self.mirror)
        folder = Path(self.mirror).expanduser().absolute()
        if not folder.is_dir():
            raise FileNotFoundError(
                f"downloads mirror {self.mirror!r} (dataset {self.dataset}) is neither a URL nor a folder"
            )
        path = folder / mirror_relpath(url)
        if not path.is_file():
            raise FileNotFoundError(
                f"downloads mirror folder {folder} has no {mirror_relpath(url)} (for {url}); a mirror folder "
                "holds <host>/<path> of every URL, as `wget -x` lays it out"
            )
        return path.as_uri()

    # ------------------------------------------------------------------ what

    def _record_file(self, url: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{cache_relpath(url)}.sha256"

    def recorded(self, url: str) -> str | None:
        """The sha256 recorded at the first download of ``url``, if any."""
        path = self._record_file(url)
        if path is None or not path.is_file():
            return None
        return path.read_text().split()[0].lower()

    def forget(self, url: str) -> None:
        """Drop the record of ``url`` (its first download turned out unusable)."""
        path = self._record_file(url)
        if path is not None:
            path.unlink(missing_ok=True)

    def expected(self, url: str, **published: str | None) -> dict[str, str]:
        """The checksums a download of ``url`` must match (see the module docstring).

        ``published``: the code's values (``md5``, ``sha256``, ``sha256_prefix``); a
        ``local:<name>`` key looks up a user-provided file in the manifest.
        """
        unknown = set(published) - set(_KINDS)
        if unknown:
            raise TypeError(f"unknown checksum kind(s) {sorted(unknown)}; known: {list(_KINDS)}")
        held = {k: str(v).lower() for k, v in published.items() if v}
        entry = self.checksums.get(url if url.startswith("local:") else str(cache_relpath(url)))
        if entry is not None:
            replaces = {k: str(v).lower() for k, v in (entry.get("replaces") or {}).items()}
            own = {k: entry[k] for k in ("md5", "sha256") if entry.get(k)}
            if replaces:
                if replaces != held:
                    raise ValueError(
                        f"{entry['manifest']}: the entry for {url} replaces {replaces}, but the workflow "
                        f"checks {held or 'nothing'}: the manifest is stale; rebuild it"
                    )
                return own
            held = {**own, **held}
        if not held and not url.startswith("local:"):
            recorded = self.recorded(url)
            if recorded:
                held = {"sha256": recorded}
        return held

    # ------------------------------------------------------------------ fetch

    def fetch(
        self, url: str, dest: str | os.PathLike, *, timeout: float = 60.0, record: bool = True, **published: str | None
    ) -> dict:
        """Download ``url`` (through the mirror) into ``dest``, checked as :meth:`expected` says.

        Where nothing was published or recorded, the sha256 of what arrived is recorded
        (``record=False`` for metadata that changes, e.g. a Zenodo record's JSON).
        Returns :func:`~cnnpractice.data.archives.download`'s record plus ``source`` (what
        was requested) and ``recorded`` (True when this download made the record).
        """
        expected = self.expected(url, **published)
        source = self.source(url)
        if source != url:
            log.info(f"downloading {url} from the mirror: {source}")
        else:
            log.info(f"downloading {url}")
        info = download(source, dest, timeout=timeout, **expected)
        info["url"], info["source"], info["recorded"] = url, source, False
        if record and not expected and self._record_file(url) is not None:
            write_text(self._record_file(url), f"{info['sha256']}  {url}\n")
            info["recorded"] = True
        return info

    def fetch_cached(self, url: str, *, timeout: float = 60.0, **published: str | None) -> tuple[Path, dict]:
        """``url``'s file in ``<folder>/<host>/<path>``: downloaded once, and reused (checked
        again) by a later call, e.g. after unpacking failed for want of disk space.

        Returns (path, record); the record's ``verified`` lists the checks made (empty
        for a file first seen now, whose sha256 was recorded).
        """
        if self.folder is None:
            raise ValueError("Downloads.fetch_cached needs a folder")
        path = self.folder / cache_relpath(url)
        if path.is_file():
            expected = self.expected(url, **published)
            info = {"url": url, "source": str(path), **hash_file(path), "recorded": False}
            for kind, want in expected.items():
                have = info["sha256"][: len(want)] if kind == "sha256_prefix" else info[kind]
                if have != want:
                    path.unlink()
                    log.info(f"{path}: {kind} {have} differs from {want}; downloading it again")
                    break
            else:
                log.info(f"{path}: kept from an earlier run ({', '.join(sorted(expected)) or 'unchecked'})")
                return path, {**info, "verified": sorted(expected)}
        try:
            return path, self.fetch(url, path, timeout=timeout, **published)
        except BaseException:
            self.prune(path)  # no empty folders left by a failed first download
            raise

    def prune(self, path: Path) -> None:
        """Remove the empty folders from ``path``'s up to the downloads folder (included)."""
        if self.folder is None:
            return
        folder = self.folder.absolute()
        for parent in Path(path).absolute().parents:
            if not parent.is_relative_to(folder):
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def discard(self, archive: Path) -> None:
        """Delete an archive once unpacked (its record, if any, stays)."""
        archive.unlink(missing_ok=True)
        self.prune(archive)

    def unpack(self, url: str, archive: Path, received: dict, dest: str | os.PathLike, **limits) -> int:
        """:func:`~cnnpractice.data.archives.extract` ``archive`` (fetched from ``url``, with
        the record ``received``) into ``dest``; the number of files.

        A corrupt archive that matched a checksum is kept (the data are what was published:
        the error says so); an unchecked one is removed with its record, to be fetched anew.
        An operating-system error (full disk) is a :class:`DiskError` that keeps the archive.
        """
        try:
            return extract(archive, dest, **limits)
        except ValueError as exc:
            if received.get("verified"):
                raise ValueError(f"{exc}; it matched its checksum and is kept at {archive}") from exc
            archive.unlink(missing_ok=True)
            self.forget(url)
            self.prune(archive)
            raise ValueError(f"{exc}; removed, to be downloaded again from {self.source(url)}") from exc
        except DiskError as exc:
            raise DiskError(exc.errno, f"{exc.strerror}; the downloaded archive is kept at {archive}") from exc


__all__ = ["DATASETS", "Downloads", "cache_relpath", "load_manifest", "mirror_relpath", "mirror_url"]
