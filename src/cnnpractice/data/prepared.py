"""The prepared image-array format, shared by the studies that train on images.

A prepared dataset is a folder written once by a ``prepare_*`` rule (the small-data
study's ``prepare_smalldata``, the semantic study's ``prepare_cifar100``) and read by
every training and feature-extraction step:

==============================  =================================================
``train_x.npy``, ``test_x.npy``  uint8 images ``(n, channels, size, size)``
``train_y.npy``, ``test_y.npy``  int64 class indices ``(n,)``
``classes.json``                 ``classes`` (names in index order) and provenance
==============================  =================================================

:func:`load_prepared` memory-maps the images (a batch is converted to float when it
is used, see :class:`cnnpractice.training.data.LazyImageDataset`); :func:`per_class`
draws the per-class subsets the preparing steps keep.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ARRAYS = ("train_x", "train_y", "test_x", "test_y")
CLASSES_FILE = "classes.json"


def prepared_files(data_dir: str | Path) -> dict[str, Path]:
    """The files of a prepared dataset folder by name (the four arrays and ``classes``)."""
    data_dir = Path(data_dir)
    return {name: data_dir / f"{name}.npy" for name in ARRAYS} | {"classes": data_dir / CLASSES_FILE}


def load_prepared(data_dir: str | Path) -> dict[str, Any]:
    """Memory-map a prepared dataset folder; errors name the missing or bad file.

    Returns ``train_x``, ``test_x`` (read-only memmaps), ``train_y``, ``test_y`` and
    ``classes`` (list of names).
    """
    data_dir = Path(data_dir)
    arrays: dict[str, Any] = {}
    for name in ARRAYS:
        path = data_dir / f"{name}.npy"
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing (run the rule that prepares {data_dir.name})")
        try:
            arrays[name] = np.load(path, mmap_mode="r" if name.endswith("_x") else None)
        except (ValueError, OSError) as exc:
            raise ValueError(f"{path}: not a readable .npy array ({exc})") from exc
    for split in ("train", "test"):
        x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if x.dtype != np.uint8 or x.ndim != 4:
            raise ValueError(
                f"{data_dir / f'{split}_x.npy'}: expected uint8 images (N, C, S, S), got {x.dtype} {x.shape}"
            )
        if len(x) != len(y):
            raise ValueError(f"{data_dir}: {split} has {len(x)} images but {len(y)} labels")
    classes_file = data_dir / CLASSES_FILE
    try:
        info = json.loads(classes_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise ValueError(f"{classes_file}: missing or not JSON ({exc})") from exc
    arrays["classes"] = list(info.get("classes") or info.get("class_names") or [])
    if not arrays["classes"]:
        raise ValueError(f"{classes_file}: no 'classes' list")
    return arrays


def per_class(
    labels: np.ndarray, k: int | None, rng: np.random.Generator, classes: Sequence[str], what: str
) -> np.ndarray:
    """Sorted indices of ``k`` random items of each class (all when ``k`` is None).

    Each class's items are permuted and the first ``k`` kept, so for one seed
    the subset of ``k`` is part of the subset of any larger ``k``.
    """
    if k is None:
        return np.arange(len(labels))
    keep = []
    for c, cls in enumerate(classes):
        idx = np.flatnonzero(labels == c)
        if len(idx) < k:
            raise ValueError(f"{what}: class {cls!r} has {len(idx)} images, fewer than the {k} asked for")
        keep.append(rng.permutation(idx)[:k])
    return np.sort(np.concatenate(keep))
