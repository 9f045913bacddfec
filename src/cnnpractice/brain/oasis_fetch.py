"""OASIS-1 download: the clinical CSV and the 12 discs, staged, safe, resumable per disc.

The selection of subjects and the cohort table are in :mod:`cnnpractice.brain.oasis`, the
clinical table's reader in :mod:`cnnpractice.brain.oasis_clinical`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from cnnpractice.brain.oasis_clinical import CLINICAL_NAME, N_DISCS, read_clinical
from cnnpractice.data.archives import hash_file
from cnnpractice.data.downloads import Downloads
from cnnpractice.io import private_dir, write_json

# The disc URLs are the ones linked from the OASIS-1 page of https://www.oasis-brains.org
# ("oasis_cross-sectional_disc1.tar.gz" ... "disc12"); the same template is used by
# balbasty/braindataprep (braindataprep/datasets/OASIS/I/download.py) and
# balbasty/brainspresso (brainspresso/datasets/OASIS/I/download.py).
OASIS1_DISC_URL = "https://download.nrg.wustl.edu/data/oasis_cross-sectional_disc{disc}.tar.gz"
# The clinical CSV as linked from oasis-brains.org (also in braindataprep's download.py).
# Since 2024 the OASIS site (sites.wustl.edu/oasisbrains) also serves an .xlsx version,
# e.g. .../files/2024/04/oasis_cross-sectional-5708aa0a98d82080.xlsx (brainspresso);
# that one would need converting to CSV first.
OASIS1_CLINICAL_URL = "https://www.oasis-brains.org/files/oasis_cross-sectional.csv"
# No checksums are published by OASIS. The md5 of disc 1 below is the one that public
# MONAI-based OASIS-1 examples verify on download (monai.apps.download_and_extract); the
# other discs have none. Pass ``disc_md5={}`` to skip it.
OASIS1_DISC_MD5 = {1: "c83e216ef8654a7cc9e2a30a4cdbe0cc"}
MARKER = ".oasis_fetch.json"


def _check_discs(discs: Iterable[int]) -> list[int]:
    out = sorted({int(d) for d in discs})
    bad = [d for d in out if not 1 <= d <= N_DISCS]
    if bad or not out:
        raise ValueError(f"OASIS-1 discs are numbered 1..{N_DISCS}; got {list(discs)}")
    return out


def _fetch_clinical(dest: Path, url: str, downloads: Downloads, timeout: float) -> dict:
    path = dest / CLINICAL_NAME
    fresh = not path.is_file()
    if fresh:
        downloads.fetch(url, path, timeout=timeout)  # none published: its sha256 is recorded
    try:
        rows = read_clinical(path)
    except ValueError as exc:
        if fresh:
            path.unlink()
            downloads.forget(url)
        raise RuntimeError(f"the clinical table from {url} is not usable (removed): {exc}") from exc
    return {"url": url, "path": CLINICAL_NAME, **hash_file(path), "rows": len(rows)}


def _fetch_disc(
    dest: Path, disc: int, url: str, md5: str | None, keep_archives: bool, downloads: Downloads, timeout: float
) -> dict:
    final = dest / f"disc{disc}"
    if (final / MARKER).is_file():
        return json.loads((final / MARKER).read_text())
    if final.exists():
        raise FileExistsError(f"{final} exists but was not unpacked by fetch_oasis (no {MARKER}); delete it and rerun")
    # a disc kept by an earlier run (unpacking failed, e.g. a full disk) is checked and reused
    archive, info = downloads.fetch_cached(url, md5=md5, timeout=timeout)
    record = _unpack_disc(dest, disc, url, archive, info, downloads)
    if not keep_archives:
        downloads.discard(archive)
    return record


def _unpack_disc(dest: Path, disc: int, url: str, archive: Path, info: dict, downloads: Downloads) -> dict:
    """Extract into a hidden folder, add the marker, rename onto ``dest/disc<N>``."""
    stage = private_dir(dest, f".disc{disc}.extract-")  # sweeps killed runs' leftovers
    try:
        try:
            n_files = downloads.unpack(url, archive, info, stage)  # a full disk keeps the archive
        except ValueError as exc:
            raise RuntimeError(f"OASIS disc {disc} from {url}: {exc}") from exc
        content = stage / f"disc{disc}"
        if not content.is_dir():  # tolerate archives without the top folder
            if not any(p.name.startswith("OAS1_") for p in stage.iterdir()):
                raise RuntimeError(f"{archive} (from {url}) holds neither disc{disc}/ nor OAS1_* session folders")
            content = stage
        record = {
            "disc": disc,
            "url": url,
            "archive": archive.name,
            "size": info["size"],
            "md5": info["md5"],
            "sha256": info["sha256"],
            "verified": info["verified"],
            "files": n_files,
            "sessions": sum(p.name.startswith("OAS1_") for p in content.iterdir()),
        }
        (content / MARKER).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        os.replace(content, dest / f"disc{disc}")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return record


def fetch_oasis(
    dest_dir: str | os.PathLike,
    *,
    discs: Iterable[int] = range(1, N_DISCS + 1),
    disc_url: str = OASIS1_DISC_URL,
    clinical_url: str = OASIS1_CLINICAL_URL,
    keep_archives: bool = False,
    disc_md5: Mapping[int, str] = OASIS1_DISC_MD5,
    timeout: float = 60.0,
    downloads: Downloads | None = None,
) -> dict:
    """Download the OASIS-1 clinical CSV and discs into ``dest_dir`` and unpack them.

    Layout: ``dest_dir/oasis_cross-sectional.csv``, ``dest_dir/disc<N>/OAS1_XXXX_MR1/...``,
    ``dest_dir/fetch.json``. Archives wait in ``downloads.folder`` (default
    ``dest_dir/../downloads``) until unpacked, and stay there with ``keep_archives`` or when
    unpacking failed for an operating-system reason (a full disk). Each download goes
    through a temporary file (a failed one leaves
    nothing; the error names the URL), each disc is unpacked into a hidden folder renamed
    onto ``disc<N>`` once complete, with a marker file (``disc<N>/.oasis_fetch.json``) that
    makes a later call skip it. Archive members that would land outside the folder, links
    and devices are refused.

    Parameters
    ----------
    dest_dir : folder to fill (created).
    discs : disc numbers (1..12) to fetch; the paper config may take only some.
    disc_url : URL template with ``{disc}``.
    clinical_url : URL of the clinical CSV (skipped when the file is already there).
    keep_archives : keep the downloaded ``.tar.gz`` files.
    disc_md5 : expected md5 per disc number, checked when present.
    timeout : seconds to wait on the network per read.
    downloads : mirror, checksum overrides, the folder of archives and first-download
        sha256 records (OASIS publishes no checksums but disc 1's; the others are recorded).

    Returns
    -------
    dict
        What ``fetch.json`` holds: ``clinical`` (url, size, md5, sha256, rows) and
        ``discs`` (disc number -> url, archive, size, md5, sha256, files, sessions) for every
        disc unpacked in ``dest_dir``, including earlier calls.

    Raises
    ------
    RuntimeError
        A download failed or an archive is corrupt or unexpected; names the URL.
    ValueError
        A checksum differs, a disc number is out of range, or an archive is unsafe.
    FileExistsError
        ``disc<N>`` exists without the marker (not made by this function).
    DiskError
        Writing failed (full disk, permissions): an OSError, reported as it is.
    """
    dest = Path(dest_dir)
    wanted = _check_discs(discs)
    downloads = (downloads or Downloads(dataset="oasis")).with_folder(dest.parent / "downloads")
    dest.mkdir(parents=True, exist_ok=True)
    clinical = _fetch_clinical(dest, clinical_url, downloads, timeout)
    for disc in wanted:
        _fetch_disc(dest, disc, disc_url.format(disc=disc), disc_md5.get(disc), keep_archives, downloads, timeout)
    records = {}
    for marker in sorted(dest.glob(f"disc*/{MARKER}")):
        record = json.loads(marker.read_text())
        records[str(record["disc"])] = record
    info = {
        "dataset": "OASIS-1 cross-sectional",
        "clinical": clinical,
        "discs": dict(sorted(records.items(), key=lambda kv: int(kv[0]))),
    }
    write_json(dest / "fetch.json", info)
    return info
