"""Readers of the small-data datasets' raw layouts (see :mod:`.datasets`): per dataset,
the class names and its splits as :class:`~.preprocess.Arrays` (decoded) or
:class:`~.preprocess.Files` (decoded on demand)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.data.archives import read_idx
from cnnpractice.smalldata.preprocess import Arrays, Files
from cnnpractice.smalldata.registry import DATASETS

_IMAGE_SUFFIXES = {".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp", ".ppm"}


def _read_fashion_mnist(raw: Path) -> tuple[list[str], dict[str, Any]]:
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(raw / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte.gz")
        if images.ndim != 3 or images.dtype != np.uint8 or labels.shape != images.shape[:1]:
            raise ValueError(f"{raw}: {prefix} images {images.shape} {images.dtype} do not match labels {labels.shape}")
        splits[split] = Arrays(images, labels)
    return DATASETS["fashion_mnist"]["classes"], splits


def _require(path: Path, name: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            f"dataset {name!r}: expected {path}; run fetch first or check "
            "the raw layout (see cnnpractice.smalldata.datasets)"
        )
    return path


def _read_flowers102(raw: Path) -> tuple[list[str], dict[str, Any]]:
    from scipy.io import loadmat
    from torchvision.datasets import Flowers102

    base = _require(raw / "flowers-102", "flowers102")
    labels = loadmat(_require(base / "imagelabels.mat", "flowers102"), squeeze_me=True)["labels"]
    ids = loadmat(_require(base / "setid.mat", "flowers102"), squeeze_me=True)
    splits = {}
    for split, keys in (("train", ("trnid", "valid")), ("test", ("tstid",))):
        image_ids = np.sort(np.concatenate([np.atleast_1d(ids[k]) for k in keys]))
        splits[split] = Files([base / "jpg" / f"image_{i:05d}.jpg" for i in image_ids], labels[image_ids - 1] - 1)
    return list(Flowers102.classes), splits


def _read_food101(raw: Path) -> tuple[list[str], dict[str, Any]]:
    base = _require(raw / "food-101", "food101")
    meta = {s: json.loads(_require(base / "meta" / f"{s}.json", "food101").read_text()) for s in ("train", "test")}
    classes = sorted(meta["train"])
    if sorted(meta["test"]) != classes:
        raise ValueError(f"{base / 'meta'}: train.json and test.json list different classes")
    splits = {}
    for split, lists in meta.items():
        items = [(base / "images" / f"{rel}.jpg", c) for c, cls in enumerate(classes) for rel in sorted(lists[cls])]
        splits[split] = Files([p for p, _ in items], [c for _, c in items])
    return classes, splits


def _class_folders(root: Path, name: str) -> tuple[list[str], dict[str, Any]]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    paths, labels = [], []
    for c, cls in enumerate(classes):
        files = sorted(p for p in (root / cls).iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        paths += files
        labels += [c] * len(files)
    if not paths:
        raise FileNotFoundError(f"dataset {name!r}: no images in class folders under {root}")
    return classes, {"all": Files(paths, labels)}


def _read_uc_merced(raw: Path) -> tuple[list[str], dict[str, Any]]:
    return _class_folders(_require(raw / "UCMerced_LandUse" / "Images", "uc_merced"), "uc_merced")


def _read_brazilian_coffee(raw: Path) -> tuple[list[str], dict[str, Any]]:
    root = raw / "brazilian_coffee_scenes"
    root = root if root.is_dir() else raw
    lists = sorted(root.glob("fold*.txt"), key=lambda p: (len(p.name), p.name))
    if not lists:  # no fold lists: class folders coffee/ and noncoffee/
        return _class_folders(root, "brazilian_coffee")
    classes = ["coffee", "noncoffee"]
    paths, labels = [], []
    for lst in lists:
        for line in lst.read_text().split():
            cls, _, stem = line.partition(".")
            if cls not in classes or not stem:
                raise ValueError(f"{lst}: entry {line!r} is not 'coffee.<name>' or 'noncoffee.<name>'")
            paths.append(_require(root / lst.stem / f"{stem}.jpg", "brazilian_coffee"))
            labels.append(classes.index(cls))
    return classes, {"all": Files(paths, labels)}


READERS = {
    "fashion_mnist": _read_fashion_mnist,
    "flowers102": _read_flowers102,
    "food101": _read_food101,
    "uc_merced": _read_uc_merced,
    "brazilian_coffee": _read_brazilian_coffee,
}
