"""Image handling behind :func:`cnnpractice.smalldata.datasets.prepare`.

* :class:`Arrays`, :class:`Files`: a split's images (already decoded, or
  files decoded on demand) with their int64 class labels; the per-dataset
  readers of :mod:`~cnnpractice.smalldata.datasets` return them.
* :func:`stratified_split`: seeded train/test split, as index arrays (per-class
  subsets: :func:`cnnpractice.data.prepared.per_class`).
* :func:`write_split`: decode, convert (grayscale or RGB) and resize a split's
  images into a uint8 ``(n, channels, size, size)`` ``.npy`` file and its
  labels into another.

Only numpy is imported at import time (Pillow inside the functions).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image


class Arrays:
    """Grayscale images already decoded: ``images`` (n, h, w) uint8."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = images, np.asarray(labels, np.int64)

    def take(self, idx: np.ndarray) -> Arrays:
        return Arrays(self.images[idx], self.labels[idx])

    def load(self, i: int) -> np.ndarray:
        return self.images[i]


class Files:
    """Image files decoded on demand."""

    def __init__(self, paths: Sequence[Path], labels: Sequence[int]):
        self.paths, self.labels = list(paths), np.asarray(labels, np.int64)

    def take(self, idx: np.ndarray) -> Files:
        return Files([self.paths[i] for i in idx], self.labels[idx])

    def load(self, i: int) -> Image.Image:
        from PIL import Image

        return Image.open(self.paths[i])


def stratified_split(
    labels: np.ndarray, fraction: float, rng: np.random.Generator, classes: Sequence[str], name: str
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) sorted indices; ``round(n_c * fraction)`` test items per class."""
    test = []
    for c, cls in enumerate(classes):
        idx = np.flatnonzero(labels == c)
        n_test = int(np.floor(len(idx) * fraction + 0.5))
        if not 0 < n_test < len(idx):
            raise ValueError(
                f"dataset {name!r}: test_fraction={fraction} leaves class {cls!r} "
                f"({len(idx)} images) with {n_test} test images"
            )
        test.append(rng.permutation(idx)[:n_test])
    test = np.sort(np.concatenate(test))
    return np.setdiff1d(np.arange(len(labels)), test), test


def _resize(img: Image.Image, size: int, mode: str) -> Image.Image:
    from PIL import Image

    w, h = img.size
    if (w, h) == (size, size):
        return img
    if mode == "squash":
        return img.resize((size, size), Image.Resampling.BILINEAR)
    m = min(w, h)  # centre square of the source: same as scaling the short side, then cropping
    box = ((w - m) / 2, (h - m) / 2, (w + m) / 2, (h + m) / 2)
    return img.resize((size, size), Image.Resampling.BILINEAR, box=box)


def _convert(img: Image.Image | np.ndarray, size: int, channels: int, mode: str) -> np.ndarray:
    """One image as uint8 ``(channels, size, size)``."""
    if isinstance(img, np.ndarray):
        from PIL import Image

        arr = img if img.shape == (size, size) else np.asarray(_resize(Image.fromarray(img, "L"), size, mode))
        return np.broadcast_to(arr, (channels, size, size))
    img = _resize(img.convert("L" if channels == 1 else "RGB"), size, mode)
    arr = np.asarray(img)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def write_split(
    items, x_path: Path, y_path: Path, *, name: str, size: int, channels: int, mode: str, threads: int
) -> None:
    """Write ``items`` (:class:`Arrays` or :class:`Files`) as ``x_path`` (uint8
    ``(n, channels, size, size)``, resized with ``mode``) and ``y_path`` (int64 labels),
    decoding with ``threads`` threads; ValueError naming an undecodable image."""
    from PIL import Image

    n = len(items.labels)
    x = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.uint8, shape=(n, channels, size, size)) if n else None

    def work(i: int) -> np.ndarray:
        if isinstance(items, Arrays):
            return _convert(items.load(i), size, channels, mode)
        path = items.paths[i]
        try:
            with items.load(i) as img:
                return _convert(img, size, channels, mode)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise ValueError(f"dataset {name!r}: cannot decode image {path}: {type(exc).__name__}: {exc}") from exc

    if n and isinstance(items, Arrays) and items.images.shape[1:] == (size, size):
        x[:] = items.images[:, None]  # no resampling: byte-identical to the source
    elif n:
        with ThreadPoolExecutor(threads) as pool:
            block = max(256, 64 * threads)  # bounds the decoded images held at once
            for start in range(0, n, block):
                stop = min(n, start + block)
                for i, arr in zip(range(start, stop), pool.map(work, range(start, stop))):
                    x[i] = arr
    if x is not None:
        x.flush()
        del x
    else:
        np.save(x_path, np.zeros((0, channels, size, size), np.uint8))
    np.save(y_path, items.labels)


__all__ = ["Arrays", "Files", "stratified_split", "write_split"]
