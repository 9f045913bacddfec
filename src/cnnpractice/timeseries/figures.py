"""Figures of the time-series study: the images of each transform, validation curves."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cnnpractice.figures import pyplot, save_figure

FIGURE_TRANSFORMS = ("gasf", "gadf", "mtf", "rp", "rp_binary")


def plot_transforms(
    *, train: str, out_png: str, image_size: int = 64, transform_params: dict | None = None, dataset: str | None = None
) -> None:
    """One series per class (the first of each in the training split) and its four images."""
    from cnnpractice.data.ucr import load_split
    from cnnpractice.timeseries.transforms import make_images

    X, y, classes = load_split(train)
    picks = [int(np.flatnonzero(y == k)[0]) for k in range(len(classes)) if np.any(y == k)]
    size = min(image_size, X.shape[1])
    images = make_images(X[picks], list(FIGURE_TRANSFORMS), size, params=transform_params)
    images = np.asarray(images)
    plt = pyplot()
    ncol = 1 + len(FIGURE_TRANSFORMS)
    fig, axes = plt.subplots(len(picks), ncol, figsize=(2.4 * ncol, 2.2 * len(picks)), squeeze=False)
    for row, idx in enumerate(picks):
        axes[row, 0].plot(X[idx], lw=1)
        axes[row, 0].set_title(f"class {classes[y[idx]]}", fontsize=9)
        axes[row, 0].tick_params(labelsize=7)
        for col, name in enumerate(FIGURE_TRANSFORMS, start=1):
            ax = axes[row, col]
            ax.imshow(images[row, col - 1], cmap="viridis", origin="upper")
            ax.set_xticks([]), ax.set_yticks([])
            if row == 0:
                ax.set_title(name.upper(), fontsize=9)
    fig.suptitle(f"{dataset or Path(train).parent.name}: series and their {size}x{size} images", fontsize=10)
    fig.tight_layout()
    save_figure(fig, out_png, dpi=110)


def read_history(path: str | Path) -> dict[str, np.ndarray]:
    """Columns of a ``metrics.csv`` written by the training runner, as float arrays."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path}: no epochs recorded")
    return {k: np.array([float(r[k]) if r[k] != "" else np.nan for r in rows]) for k in rows[0]}


def plot_val_curves(*, histories: Sequence[str], out_png: str, dataset: str | None = None) -> None:
    """Validation accuracy per epoch, one curve per run (``.../<model>/<image>/run<r>/metrics.csv``).

    Runs trained without a validation split show their training accuracy (dashed).
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for path in histories:
        hist = read_history(path)
        label = "/".join(Path(path).parts[-4:-2])
        acc = hist["val_acc"]
        if np.all(np.isnan(acc)):
            ax.plot(hist["epoch"], hist["train_acc"], ls="--", label=f"{label} (train, no val split)")
        else:
            ax.plot(hist["epoch"], acc, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{dataset or ''} accuracy per epoch".strip())
    fig.tight_layout()
    save_figure(fig, out_png, dpi=110)
