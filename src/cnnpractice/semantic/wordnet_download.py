"""WordNet 3.0 as nltk distributes it (``semantic.wordnet: download``, or ``auto`` without the
Debian packages): ``wordnet.zip``, at the URL and with the checksums nltk's data index
lists, fetched through :class:`cnnpractice.data.downloads.Downloads` (so
``downloads.mirror`` applies) and unpacked. nltk's own downloader cannot serve here: it
refuses loopback and private addresses (an SSRF guard, nltk 3.10), i.e. every site mirror
and the rehearsal's server.
"""

from __future__ import annotations

from pathlib import Path

#: nltk's data index (``nltk.downloader.Downloader.DEFAULT_URL``): lists ``wordnet.zip``'s URL
#: and checksums.
NLTK_INDEX_URL = "https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/index.xml"


def _index_entry(index_file: Path, package: str = "wordnet") -> dict[str, str]:
    """``url``, ``md5`` and ``sha256`` (when listed) of ``package`` in nltk's ``index.xml``."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(index_file).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ValueError(f"{NLTK_INDEX_URL}: not nltk's data index ({exc})") from exc
    for node in root.iter("package"):
        if node.get("id") == package:
            if not node.get("url") or not node.get("checksum"):
                raise ValueError(f"{NLTK_INDEX_URL}: package {package!r} has no url or checksum")
            return {"url": node.get("url"), "md5": node.get("checksum"), "sha256": node.get("sha256_checksum")}
    raise ValueError(f"{NLTK_INDEX_URL}: no package {package!r}")


def download_wordnet(nltk_root: Path, downloads=None) -> tuple[Path, dict]:
    """``wordnet.zip`` as nltk's index lists it, checked against the index's checksums and
    unpacked into ``nltk_root/corpora``; (the corpus folder, what was received).

    Raises RuntimeError, ValueError or FileNotFoundError (naming the URL) when it fails.
    """
    from cnnpractice.data.archives import extract
    from cnnpractice.data.downloads import Downloads

    downloads = downloads or Downloads(dataset="wordnet")
    corpora = nltk_root / "corpora"
    corpora.mkdir(parents=True, exist_ok=True)
    index = corpora / ".index.xml"
    downloads.fetch(NLTK_INDEX_URL, index, record=False)  # the index changes: nothing recorded
    entry = _index_entry(index)
    index.unlink()
    archive = corpora / "wordnet.zip"
    received = downloads.fetch(entry["url"], archive, md5=entry["md5"], sha256=entry["sha256"])
    extract(archive, corpora, max_members=1000)
    archive.unlink()
    folder = corpora / "wordnet"
    if not (folder / "data.noun").is_file():
        raise ValueError(f"{entry['url']} held no wordnet/data.noun")
    return folder, received


__all__ = ["NLTK_INDEX_URL", "download_wordnet"]
