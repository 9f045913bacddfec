"""WordNet 3.0 for nltk, and the WordNet hierarchy above a dataset's classes.

Corpus folder (:func:`prepare_wordnet`): nltk reads WordNet from
``<nltk_data>/corpora/wordnet/``, the database files of the Princeton release
(``data.noun``, ``index.noun``, ``noun.exc``, ..., ``index.sense``,
``cntlist.rev``) plus ``lexnames``, the list of lexicographer files. The Debian
packages ``wordnet-base`` and ``wordnet-sense-index`` install the database files
of WordNet 3.0 in ``/usr/share/wordnet/`` but not ``lexnames``, whose table is
printed in the manual page ``lexnames(5WN)``: :func:`lexnames_from_man` rebuilds
the file from it. Without those packages, nltk's ``wordnet.zip`` is downloaded (the
URL and checksums nltk's data index lists; through ``downloads.mirror`` when set).

Hierarchy (:func:`class_hierarchy`): every WordNet noun above at least one class
(hypernyms and instance hypernyms, the class's own synset included) is a
*candidate* name; ``membership[i, j]`` says whether candidate ``j`` is class
``i`` or one of its ancestors. ``distance[i, j]`` is the WordNet path length
between two classes: the fewest hypernym edges from both to a common ancestor
(nltk's ``shortest_path_distance``).
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.io import load_npz, save_npz, write_json

log = logging.getLogger("cnnpractice.semantic")

DEBIAN_DIR = "/usr/share/wordnet"
LEXNAMES_MAN = "/usr/share/man/man5/lexnames.5WN.gz"
DEBIAN_PACKAGES = ("wordnet-base", "wordnet-sense-index")
SOURCES = ("auto", "debian", "download")
#: The files nltk's WordNetCorpusReader opens, apart from ``lexnames``.
DATABASE_FILES = (
    "cntlist.rev",
    "index.sense",
    *(f"{kind}.{pos}" for kind in ("index", "data") for pos in ("adj", "adv", "noun", "verb")),
    *(f"{pos}.exc" for pos in ("adj", "adv", "noun", "verb")),
)
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
_WNID = re.compile(r"^n\d{8}$")
HIERARCHY_ARRAYS = {
    "classes": "U",
    "class_ids": "U",
    "synsets": "U",
    "candidates": "U",
    "labels": "U",
    "depth": "iu",
    "membership": "b",
    "distance": "iu",
    "order": "iu",
}


class WordNetMissing(FileNotFoundError):
    """WordNet is not where it should be, and could not be put there."""


def missing_message(why: str) -> str:
    packages = " ".join(DEBIAN_PACKAGES)
    return (
        f"WordNet 3.0 is not available: {why}. Install the Debian packages {packages} "
        f"(`sudo apt-get install {packages}`, or `make setup` as root), or allow network "
        "access (or a downloads.mirror) so that nltk's wordnet.zip can be fetched (config key "
        "semantic.wordnet: auto or download)."
    )


def lexnames_from_man(man_page: str | Path) -> str:
    """The ``lexnames`` file (``NN<TAB>name<TAB>category`` per line) from ``lexnames(5WN)``.

    >>> text = lexnames_from_man(LEXNAMES_MAN)  # doctest: +SKIP
    >>> text.splitlines()[3]  # doctest: +SKIP
    '03\\tnoun.Tops\\t1'
    """
    man_page = Path(man_page)
    try:
        raw = gzip.decompress(man_page.read_bytes()) if man_page.suffix == ".gz" else man_page.read_bytes()
    except (OSError, EOFError) as exc:
        raise WordNetMissing(missing_message(f"cannot read the manual page {man_page} ({exc})")) from exc
    lines = []
    for line in raw.decode("latin-1").splitlines():
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) >= 2 and re.fullmatch(r"\d\d", fields[0]) and "." in fields[1]:
            pos = fields[1].split(".")[0]
            if pos not in _CATEGORY:
                raise ValueError(f"{man_page}: unexpected lexicographer file {fields[1]!r}")
            lines.append((int(fields[0]), fields[1], _CATEGORY[pos]))
    if [n for n, _, _ in lines] != list(range(len(lines))) or len(lines) < 45:
        raise ValueError(f"{man_page}: expected lexicographer files numbered 00..44, found {[n for n, _, _ in lines]}")
    return "".join(f"{n:02d}\t{name}\t{cat}\n" for n, name, cat in lines)


def _debian_missing(debian_dir: Path, lexnames_man: Path) -> list[str]:
    return [str(p) for p in [*(debian_dir / f for f in DATABASE_FILES), lexnames_man] if not p.is_file()]


def prepare_wordnet(
    out_dir: str | Path,
    *,
    source: str = "auto",
    debian_dir: str | Path = DEBIAN_DIR,
    lexnames_man: str | Path = LEXNAMES_MAN,
    downloads=None,
) -> dict[str, Any]:
    """Lay out WordNet 3.0 as an nltk corpus in ``out_dir`` (``<nltk_data>/corpora/wordnet``).

    Parameters
    ----------
    out_dir : the corpus folder to write (staged, then renamed into place).
    source : ``"debian"`` copies ``debian_dir``'s files and builds ``lexnames``
        from ``lexnames_man``; ``"download"`` fetches ``wordnet.zip`` as nltk's data
        index lists it (:mod:`.wordnet_download`; its md5/sha256 checked);
        ``"auto"`` takes the Debian files when all are there, else downloads.
    debian_dir, lexnames_man : where the Debian packages put the files.
    downloads : :class:`cnnpractice.data.downloads.Downloads` of the download (mirror,
        checksum overrides); default: the original URLs.

    Returns
    -------
    The provenance written to ``out_dir/source.json``: source, version, files.

    Raises
    ------
    WordNetMissing
        Neither source works; the message says what to install.
    """
    from cnnpractice.data.archives import staged_dir

    if source not in SOURCES:
        raise ValueError(f"semantic.wordnet must be one of {SOURCES}, got {source!r}")
    out_dir, debian_dir, lexnames_man = Path(out_dir), Path(debian_dir), Path(lexnames_man)
    missing = _debian_missing(debian_dir, lexnames_man)
    if source == "debian" and missing:
        raise WordNetMissing(missing_message(f"missing {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}"))
    use_debian = source == "debian" or (source == "auto" and not missing)
    with staged_dir(out_dir, "wordnet", replace="source.json") as stage:
        if use_debian:
            for name in DATABASE_FILES:
                shutil.copyfile(debian_dir / name, stage / name)
            (stage / "lexnames").write_text(lexnames_from_man(lexnames_man))
            origin = {"source": "debian", "from": str(debian_dir), "packages": list(DEBIAN_PACKAGES)}
        else:
            if source == "auto":
                log.info(f"wordnet: Debian WordNet files missing ({missing[0]} ...); downloading nltk's copy")
            download_root = stage / ".nltk_download"
            from cnnpractice.semantic.wordnet_download import download_wordnet

            try:
                folder, received = download_wordnet(download_root, downloads)
            except (RuntimeError, ValueError, FileNotFoundError) as exc:
                raise WordNetMissing(missing_message(f"downloading nltk's copy failed ({exc})")) from exc
            for path in folder.iterdir():
                shutil.move(str(path), stage / path.name)
            shutil.rmtree(download_root)
            origin = {"source": "download", "from": received["url"], "received": received}
        reader = _open_reader(stage)
        info = {
            **origin,
            "version": reader.get_version(),
            "files": sorted(p.name for p in stage.iterdir() if p.is_file()),
        }
        write_json(stage / "source.json", info)
    log.info(f"wordnet: WordNet {info['version']} ({info['source']}) in {out_dir}")
    return info


def _trust(nltk_data: Path) -> None:
    """Put ``nltk_data`` first on ``nltk.data.path``: nltk finds corpora there, and opens
    files only below the folders on that path."""
    import nltk

    root = str(Path(nltk_data).resolve())
    if root in nltk.data.path:
        nltk.data.path.remove(root)
    nltk.data.path.insert(0, root)


def _open_reader(corpus_dir: Path):
    """nltk's reader of the corpus in ``corpus_dir`` (``<nltk_data>/corpora/<name>``), English
    only: the mapping to other WordNet versions that nltk builds for the Open Multilingual
    Wordnet (two passes over ``index.sense``, and a lookup of nltk's default corpus) is skipped."""
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class EnglishWordNet(WordNetCorpusReader):
        def map_wn(self, version="wordnet"):
            return None

    _trust(corpus_dir.parent.parent)
    try:
        with warnings.catch_warnings():  # no Open Multilingual Wordnet: English only, as wanted
            warnings.simplefilter("ignore", UserWarning)
            return EnglishWordNet(str(corpus_dir), None)
    except (OSError, LookupError, AssertionError, ValueError) as exc:
        raise WordNetMissing(
            missing_message(f"{corpus_dir} is not a readable WordNet corpus ({type(exc).__name__}: {exc})")
        ) from exc


def load_wordnet(nltk_data: str | Path):
    """WordNet from ``<nltk_data>/corpora/wordnet`` (written by :func:`prepare_wordnet`).

    ``nltk_data`` is also put first on ``nltk.data.path``, so ``nltk.corpus.wordnet``
    finds the same files. Raises :class:`WordNetMissing` naming the folder.
    """
    nltk_data = Path(nltk_data)
    corpus = nltk_data / "corpora" / "wordnet"
    if not (corpus / "data.noun").is_file() or not (corpus / "lexnames").is_file():
        raise WordNetMissing(
            missing_message(
                f"{corpus} has no WordNet corpus (data.noun, lexnames); the workflow's prepare_wordnet rule writes it"
            )
        )
    return _open_reader(corpus)


def display_name(synset) -> str:
    """``living_thing.n.01`` -> ``Living thing`` (first lemma, as the talk writes names)."""
    name = synset.lemmas()[0].name().replace("_", " ")
    return name[:1].upper() + name[1:]


def resolve_synsets(
    wn, classes: Sequence[str], class_ids: Sequence[str], mapping: Mapping[str, str], config_key: str
) -> list:
    """The WordNet noun synset of every class.

    A class named in ``mapping`` (class name -> synset name such as ``boot.n.01``)
    takes that synset; otherwise a class id that is an ImageNet wnid
    (``n01440764``) is the noun synset at that WordNet 3.0 offset. Errors name
    ``config_key`` (where the mapping lives in the config).
    """
    from nltk.corpus.reader.wordnet import WordNetError

    unknown = sorted(set(mapping) - set(classes))
    if unknown:
        raise ValueError(
            f"{config_key} names classes the dataset does not have: {unknown}; its classes are {list(classes)}"
        )
    synsets = []
    for name, cid in zip(classes, class_ids):
        try:
            if name in mapping:
                synset = wn.synset(mapping[name])
            elif _WNID.match(cid):
                if wn.get_version() != "3.0":
                    raise ValueError(f"ImageNet wnids are WordNet 3.0 offsets, but this WordNet is {wn.get_version()}")
                synset = wn.synset_from_pos_and_offset("n", int(cid[1:]))
            else:
                raise ValueError(
                    f"class {name!r} has no WordNet synset: add it under {config_key} "
                    "(class name -> synset name, e.g. boot.n.01)"
                )
        except WordNetError as exc:
            raise ValueError(f"{config_key}.{name}: {exc}") from exc
        if synset.pos() != "n":
            raise ValueError(f"{config_key}.{name}: {synset.name()} is not a noun synset")
        if synset in synsets:
            other = classes[synsets.index(synset)]
            raise ValueError(
                f"{config_key}: classes {other!r} and {name!r} both map to "
                f"{synset.name()}; give each class its own synset"
            )
        synsets.append(synset)
    return synsets


def _ancestor_distances(synset) -> dict:
    """Every ancestor of ``synset`` (itself included) -> fewest hypernym edges to it."""
    out: dict = {}
    for ancestor, dist in synset.hypernym_distances():
        if dist < out.get(ancestor, np.iinfo(np.int32).max):
            out[ancestor] = dist
    return out


def path_distances(steps: np.ndarray, max_cells: int = 1 << 23) -> np.ndarray:
    """Pairwise path lengths through common ancestors.

    ``steps`` (n_classes, n_candidates): hypernym edges from class i up to
    candidate j, a large value where j is not above i. Returns (n, n) integers
    ``min_j steps[a, j] + steps[b, j]``, a few rows at a time so that no
    intermediate holds more than ``max_cells`` values (ImageNet: 1000 classes x
    ~1,800 candidates, 4 rows per step, 32 MB).
    """
    steps = np.asarray(steps, dtype=np.int32)
    n, m = steps.shape
    chunk = max(1, max_cells // max(1, n * m))
    out = np.empty((n, n), dtype=np.int64)
    for start in range(0, n, chunk):
        out[start : start + chunk] = (steps[start : start + chunk, None, :] + steps[None, :, :]).min(axis=2)
    return out


def class_hierarchy(synsets: Sequence) -> dict[str, np.ndarray]:
    """The candidate names above ``synsets`` and how they relate to the classes.

    Returns arrays (n = classes, m = candidates): ``synsets`` (n,) names;
    ``candidates`` (m,) synset names, sorted; ``labels`` (m,) display names;
    ``depth`` (m,) longest path from the root (more = more specific);
    ``membership`` (n, m) bool; ``distance`` (n, n) WordNet path lengths;
    ``order`` (n,) rank of each class in a depth-first walk of WordNet: classes sorted
    by the synset offsets along their first hypernym path, so related classes sit
    together and groups come in WordNet's own order (living things before artifacts,
    birds before mammals).
    """
    ancestors = [_ancestor_distances(s) for s in synsets]
    candidates = sorted({a for anc in ancestors for a in anc}, key=lambda s: s.name())
    column = {s: j for j, s in enumerate(candidates)}
    far = 1 << 20
    steps = np.full((len(synsets), len(candidates)), far, dtype=np.int64)
    for i, anc in enumerate(ancestors):
        for a, dist in anc.items():
            steps[i, column[a]] = dist
    paths = [tuple(x.offset() for x in s.hypernym_paths()[0]) for s in synsets]
    return {
        "synsets": np.array([s.name() for s in synsets]),
        "candidates": np.array([s.name() for s in candidates]),
        "labels": np.array([display_name(s) for s in candidates]),
        "depth": np.array([s.max_depth() for s in candidates], dtype=np.int64),
        "membership": steps < far,
        "distance": path_distances(steps),
        "order": paths_key(paths),
    }


def paths_key(paths: Sequence[tuple[str, ...]]) -> np.ndarray:
    """Ranks of hypernym paths in lexicographic order (ties keep their order)."""
    ranked = sorted(range(len(paths)), key=lambda i: paths[i])
    rank = np.empty(len(paths), dtype=np.int64)
    rank[ranked] = np.arange(len(paths))
    return rank


def map_classes(
    *, nltk_data: str | Path, classes_file: str | Path, mapping: Mapping[str, str], config_key: str, out: str | Path
) -> dict[str, np.ndarray]:
    """Map the classes listed in ``classes_file`` (``classes``, ``class_ids``) to WordNet and
    write their hierarchy (:func:`class_hierarchy`) to ``out`` (``.npz``)."""
    info = json.loads(Path(classes_file).read_text())
    for key in ("classes", "class_ids"):
        if not isinstance(info.get(key), list):
            raise ValueError(f"{classes_file}: no {key!r} list")
    wn = load_wordnet(nltk_data)
    synsets = resolve_synsets(wn, info["classes"], info["class_ids"], mapping, config_key)
    arrays = class_hierarchy(synsets)
    # a class's own synset is called what the dataset calls the class ("T-shirt/top", not
    # WordNet's first lemma "Jersey"), unless the dataset only has wnids for names or the
    # synset is also above other classes
    labels = arrays["labels"].astype(object)
    alone = arrays["membership"].sum(axis=0) == 1
    for name, synset in zip(info["classes"], arrays["synsets"]):
        j = np.flatnonzero(arrays["candidates"] == synset)[0]
        if alone[j] and not _WNID.match(name):
            labels[j] = name
    arrays.update(labels=labels.astype(str), classes=np.array(info["classes"]), class_ids=np.array(info["class_ids"]))
    save_npz(out, **arrays)
    log.info(
        f"wordnet: {len(synsets)} classes, {len(arrays['candidates'])} candidate hypernyms "
        f"(WordNet {wn.get_version()}) -> {out}"
    )
    for name, synset in zip(info["classes"], synsets):
        log.info(f"wordnet:   {name} -> {synset.name()}: {synset.definition()}")
    return arrays


def load_hierarchy(path: str | Path) -> dict[str, np.ndarray]:
    """Read what :func:`map_classes` wrote, checking every array is there."""
    return load_npz(path, required=HIERARCHY_ARRAYS)
