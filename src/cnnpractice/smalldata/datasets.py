"""Image datasets of the small-data study: registry, raw download, then decoding and resizing.

Two steps, cached separately by the workflow:

* :func:`fetch` puts one dataset's raw files into ``raw_dir`` and writes
  ``raw_dir/fetch.json`` (dataset, source, files with sizes and checksums).
  ``raw_dir`` appears all at once: everything is built in a hidden sibling
  folder that is renamed at the end, so a failed fetch leaves nothing there.
* :func:`prepare` decodes every image of ``raw_dir`` once, converts and resizes
  it, picks a few images per class and writes ``out_dir`` (again staged and
  renamed): ``train_x.npy``, ``test_x.npy`` (uint8, ``(n, channels, size,
  size)``), ``train_y.npy``, ``test_y.npy`` (int64 class indices) and
  ``classes.json``.

:data:`DATASETS` lists what can be fetched, where from and with which
published checksums. Raw layouts inside ``raw_dir`` (the ones torchvision's
classes use, where torchvision has the dataset):

==================  ==========================================================
dataset             raw layout
==================  ==========================================================
fashion_mnist       ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``
flowers102          ``flowers-102/{jpg/image_NNNNN.jpg,imagelabels.mat,setid.mat}``
food101             ``food-101/{images/<class>/<id>.jpg,meta/{train,test}.json}``
uc_merced           ``UCMerced_LandUse/Images/<class>/<file>.tif``
brazilian_coffee    ``brazilian_coffee_scenes/fold<k>.txt`` listing
                    ``coffee.<name>`` / ``noncoffee.<name>``, images in
                    ``fold<k>/<name>.jpg``; or else ``<root>/<class>/<file>``
                    with class folders ``coffee`` and ``noncoffee``
==================  ==========================================================

This module holds :func:`fetch` and :func:`prepare`; the registry is
:mod:`~cnnpractice.smalldata.registry`, the per-dataset readers of the raw layouts
:mod:`~cnnpractice.smalldata.readers`. The generic download, archive and IDX
machinery is shared (:mod:`cnnpractice.data.archives`); image decoding, resizing,
subsetting and splitting live in :mod:`~cnnpractice.smalldata.preprocess`.

Only numpy is imported at import time (Pillow, scipy for Flowers102's
``.mat`` files and torchvision for its class names inside the functions).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.data.archives import DiskError, gunzip, hash_file, staged_dir
from cnnpractice.data.prepared import per_class
from cnnpractice.io import write_json
from cnnpractice.smalldata.preprocess import stratified_split, write_split
from cnnpractice.smalldata.readers import READERS
from cnnpractice.smalldata.registry import DATASETS, DEFAULT_SHIPPED_DIR, FMNIST_FILES, RESIZE_MODES, SOURCES

log = logging.getLogger("cnnpractice.smalldata")


def talk_key(name: str) -> str | None:
    """The talk's column name for dataset ``name`` (None when the talk did not use it)."""
    if name not in DATASETS:
        raise ValueError(f"unknown small-data dataset {name!r}; known: {sorted(DATASETS)}")
    return DATASETS[name]["talk_key"]


def _check_name(name: str) -> dict[str, Any]:
    if name not in DATASETS:
        raise ValueError(f"unknown small-data dataset {name!r}; known: {sorted(DATASETS)}")
    if name == "oasis":
        raise NotImplementedError(
            "dataset 'oasis': the OASIS brain slices come from the brain-MRI study "
            "(results/brain/slices/<input>/, config section brain), which the small-data study "
            "does not read yet. Remove 'oasis' from the small-data study's dataset list (config "
            "key smalldata.datasets)."
        )
    return DATASETS[name]


# ---------------------------------------------------------------------------
# fetch: shipped copy or downloads
# ---------------------------------------------------------------------------


def _fetch_shipped(name: str, spec: dict, shipped_dir: Path, stage: Path) -> list[dict]:
    files = []
    for fname in FMNIST_FILES:
        src = shipped_dir / fname
        try:
            shutil.copyfile(src, stage / fname)
            content = hashlib.md5(gunzip(stage / fname)).hexdigest()
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"could not copy {src}: {exc}") from exc
        if content != spec["content_md5"][fname]:
            raise ValueError(
                f"{src}: md5 of the decompressed data is {content}, expected "
                f"{spec['content_md5'][fname]} (published Fashion-MNIST)"
            )
        files.append(
            {
                "path": fname,
                "origin": str(src),
                **hash_file(stage / fname),
                "content_md5": content,
                "verified": ["content_md5"],
            }
        )
    return files


def _fetch_downloads(spec: dict, stage: Path, downloads) -> list[dict]:
    """Every file of ``spec["downloads"]`` into ``stage``. Archives wait in ``downloads.folder``
    until unpacked (a full disk while unpacking does not cost the download)."""
    files = []
    for item in spec["downloads"]:
        folder = stage / item["into"]
        folder.mkdir(parents=True, exist_ok=True)
        fname = item["urls"][0].rsplit("/", 1)[-1]
        errors = []
        for url in item["urls"]:
            try:
                if item["extract"]:
                    archive, info = downloads.fetch_cached(url, md5=item["md5"])
                else:
                    archive, info = folder / fname, downloads.fetch(url, folder / fname, md5=item["md5"])
                break
            except (RuntimeError, ValueError, FileNotFoundError) as exc:
                errors.append(str(exc))
        else:
            raise RuntimeError("; ".join(errors))
        entry = {"path": str(Path(item["into"]) / fname), **info}
        if item["extract"]:
            entry["extracted_files"] = downloads.unpack(url, archive, info, folder)
            downloads.discard(archive)
            entry["path"] = None  # archive deleted after unpacking
            entry["archive"] = fname
        files.append(entry)
    return files


def fetch(
    name: str,
    raw_dir: str | os.PathLike,
    *,
    source: str = "auto",
    shipped_dir: str | os.PathLike = DEFAULT_SHIPPED_DIR,
    downloads=None,
) -> dict[str, Any]:
    """Put the raw files of dataset ``name`` into ``raw_dir`` (see :data:`DATASETS`).

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    raw_dir : path
        Folder to create. When it already holds a ``fetch.json`` of ``name``
        nothing is fetched and that record is returned.
    source : {"auto", "shipped", "download"}
        ``"shipped"`` copies Fashion-MNIST from ``shipped_dir`` (the Debian
        package ``dataset-fashion-mnist``), verifying the md5 of the
        decompressed data against the published ones; ``"download"`` fetches
        the URLs of :data:`DATASETS`, verifying published md5s where they
        exist; ``"auto"``: shipped when a shipped copy exists, else download.
        Only Fashion-MNIST has a shipped copy: the other datasets always
        download, whatever ``source`` says (one config value serves all).
    shipped_dir : path
        Where the shipped Fashion-MNIST ``.gz`` files lie.
    downloads : cnnpractice.data.downloads.Downloads, optional
        Mirror and checksum settings, and the folder where archives wait until
        unpacked (default: the original URLs, published md5s, ``<raw_dir>/../downloads``).

    Returns
    -------
    dict
        The content of ``raw_dir/fetch.json``: ``name``, ``talk_key``,
        ``source``, ``files`` (each with ``path`` in ``raw_dir`` or None for an
        unpacked and deleted archive, ``url`` or ``origin``, ``size``, ``md5``,
        ``sha256``, ``verified``).

    Raises
    ------
    ValueError
        Unknown ``name`` (the message lists the known ones) or bad ``source``.
    NotImplementedError
        For ``"oasis"``: the brain-MRI study's slices are not wired into this study yet.
    RuntimeError
        The fetch failed; names the dataset, the URL or file and the cause.
        Nothing is left at ``raw_dir``.
    DiskError
        Writing failed (full disk, permissions): an OSError, as it is; a downloaded
        archive stays in ``downloads.folder`` for the next run.
    """
    spec = _check_name(name)
    if source not in SOURCES:
        raise ValueError(f"source must be one of {list(SOURCES)}, got {source!r}")
    raw_dir, shipped_dir = Path(raw_dir), Path(shipped_dir)
    has_shipped = name == "fashion_mnist" and all((shipped_dir / f).is_file() for f in FMNIST_FILES)
    if source == "shipped" and name == "fashion_mnist" and not has_shipped:
        raise ValueError(
            f"dataset {name!r}: no shipped copy in {shipped_dir} (Debian package "
            "dataset-fashion-mnist); install it, or use source='download' or 'auto'"
        )
    record = raw_dir / "fetch.json"
    with contextlib.suppress(OSError, ValueError):
        old = json.loads(record.read_text())
        if old.get("name") == name:
            return old
    if raw_dir.is_dir() and any(raw_dir.iterdir()):
        raise FileExistsError(
            f"dataset {name!r}: {raw_dir} exists and holds no fetch.json of {name!r}; delete it and rerun"
        )
    used = "shipped" if has_shipped and source != "download" else "download"
    try:
        with staged_dir(raw_dir, "fetch") as stage:
            if used == "shipped":
                files = _fetch_shipped(name, spec, shipped_dir, stage)
            else:
                from cnnpractice.data.downloads import Downloads

                downloads = (downloads or Downloads(dataset=name)).with_folder(raw_dir.parent / "downloads")
                files = _fetch_downloads(spec, stage, downloads)
            info = {
                "name": name,
                "talk_key": spec["talk_key"],
                "description": spec["description"],
                "source": used,
                "files": files,
            }
            write_json(stage / "fetch.json", info)
    except (FileExistsError, DiskError):
        raise
    except Exception as exc:
        raise RuntimeError(f"could not fetch dataset {name!r} into {raw_dir} (source {used!r}): {exc}") from exc
    return info


# ---------------------------------------------------------------------------
# prepare
# ---------------------------------------------------------------------------


def _check_int(value: Any, key: str, low: int, high: int | None = None, none: bool = False) -> None:
    if value is None and none:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or value < low
        or (high is not None and value > high)
    ):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{key} must be an integer {rng}{' or None' if none else ''}, got {value!r}")


def prepare(
    name: str,
    raw_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    image_size: int,
    channels: int,
    train_per_class: int | None,
    test_per_class: int | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    resize: str = "squash",
    threads: int = 1,
) -> dict[str, Any]:
    """Decode, convert, resize and subsample a fetched dataset into ``.npy`` arrays.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    raw_dir : path
        Folder written by :func:`fetch` (or by hand, in the layout it makes).
    out_dir : path
        Folder to write (staged, then renamed; a previous output is replaced):
        ``train_x.npy``, ``test_x.npy``: uint8 ``(n, channels, image_size,
        image_size)``; ``train_y.npy``, ``test_y.npy``: int64 ``(n,)`` class
        indices; ``classes.json``.
    image_size : int
        Side of the square output images.
    channels : {1, 3}
        1 converts colour to grayscale (Pillow's ``L``: 0.299 R + 0.587 G +
        0.114 B); 3 converts to RGB (gray replicated).
    train_per_class, test_per_class : int or None
        Images kept per class of the training / test split, drawn at random
        with ``seed`` (None: all). ValueError naming the class when one has
        fewer.
    test_fraction : float
        For datasets without an official test split (``uc_merced``,
        ``brazilian_coffee``): share of each class held out as test, drawn
        with ``seed`` before any subsetting. Ignored otherwise.
    seed : int
        Seeds three independent streams (``np.random.default_rng([seed, k])``):
        k=0 the train/test split, 1 the train subset, 2 the test subset.
    resize : {"squash", "center_crop"}
        ``squash`` resizes to ``image_size`` squared, ignoring the aspect;
        ``center_crop`` scales the short side to ``image_size`` and keeps the
        centre square. Pillow bilinear, antialiased when shrinking; an image
        already of the output size is not resampled.
    threads : int
        Decoding threads.

    Returns
    -------
    dict
        The content of ``classes.json``: ``name``, ``talk_key``, ``source``
        (from ``fetch.json``), ``classes`` (names in index order), ``counts``
        (per split, class name -> images), ``n_train``, ``n_test``,
        ``image_size``, ``channels``, ``resize``, ``seed``,
        ``train_per_class``, ``test_per_class``, ``split`` and
        ``test_fraction`` (None for an official split).

    Raises
    ------
    ValueError
        Bad arguments, an unknown dataset, a class too small, or a corrupt
        image or IDX file (named in the message).
    FileNotFoundError
        ``raw_dir`` lacks a file of the expected layout (named).
    """
    spec = _check_name(name)
    _check_int(image_size, "image_size", 1, 4096)
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    _check_int(train_per_class, "train_per_class", 1, none=True)
    _check_int(test_per_class, "test_per_class", 1, none=True)
    _check_int(seed, "seed", 0)
    _check_int(threads, "threads", 1)
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {list(RESIZE_MODES)}, got {resize!r}")
    if not (isinstance(test_fraction, (int, float)) and 0 < test_fraction < 1):
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"dataset {name!r}: raw folder {raw_dir} not found; run fetch")
    source = "unknown"
    if (raw_dir / "fetch.json").is_file():
        fetched = json.loads((raw_dir / "fetch.json").read_text())
        if fetched.get("name") != name:
            raise ValueError(f"{raw_dir / 'fetch.json'} is for dataset {fetched.get('name')!r}, not {name!r}")
        source = fetched.get("source", source)

    classes, splits = READERS[name](raw_dir)
    if spec["split"] == "none":
        everything = splits.pop("all")
        train_idx, test_idx = stratified_split(
            everything.labels, test_fraction, np.random.default_rng([seed, 0]), classes, name
        )
        splits = {"train": everything.take(train_idx), "test": everything.take(test_idx)}
    for split, k, stream in (("train", train_per_class, 1), ("test", test_per_class, 2)):
        idx = per_class(
            splits[split].labels, k, np.random.default_rng([seed, stream]), classes, f"dataset {name!r}, {split} split"
        )
        splits[split] = splits[split].take(idx)

    info = {
        "name": name,
        "talk_key": spec["talk_key"],
        "source": source,
        "classes": list(classes),
        "counts": {
            s: {cls: int(np.sum(items.labels == c)) for c, cls in enumerate(classes)} for s, items in splits.items()
        },
        "n_train": len(splits["train"].labels),
        "n_test": len(splits["test"].labels),
        "image_size": image_size,
        "channels": channels,
        "resize": resize,
        "seed": seed,
        "train_per_class": train_per_class,
        "test_per_class": test_per_class,
        "split": "official" if spec["split"] == "official" else "stratified",
        "test_fraction": None if spec["split"] == "official" else test_fraction,
    }
    with staged_dir(out_dir, "prepare", replace="classes.json") as stage:
        for split, items in splits.items():
            write_split(
                items,
                stage / f"{split}_x.npy",
                stage / f"{split}_y.npy",
                name=name,
                size=image_size,
                channels=channels,
                mode=resize,
                threads=threads,
            )
        write_json(stage / "classes.json", info)
    log.info(
        f"prepared {name}: {info['n_train']} train, {info['n_test']} test images of "
        f"{channels}x{image_size}x{image_size} in {out_dir}"
    )
    return info
