"""Figures of the brain study's interpretability stage (the talk's Figures 2 and 3).

Plain functions taking arrays and an output path; written atomically. Images are 2D planes
(first array axis = horizontal image axis), drawn transposed with the origin at the bottom,
so a sagittal plane (Y, Z) shows anterior to the right and superior up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cnnpractice.figures import pyplot, save_figure


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def plot_filter_activations(
    maps0: np.ndarray,
    maps1: np.ndarray,
    dbms: np.ndarray,
    out: str | Path,
    *,
    filter_a: int | None = None,
    titles: Sequence[str] = ("class 0", "class 1"),
    suptitle: str | None = None,
    dpi: int = 110,
) -> None:
    """Figure 2 analogue: every filter's activation on the same slice of two subjects.

    Parameters
    ----------
    maps0, maps1 : (F, H, W) activation maps of the class-0 and the class-1 subject.
    dbms : (F,) dBMS of each filter; each panel is framed by a square whose color (Reds
        colormap, shown by the colorbar) is the filter's dBMS.
    out : PNG path.
    filter_a : index of filter A, labelled "A" in both grids.
    titles : titles of the two grids.

    Each filter uses the same gray scale (0 .. its max over both subjects) in both grids, so
    the two subjects can be compared filter by filter.
    """
    maps0, maps1 = np.asarray(maps0, dtype=np.float32), np.asarray(maps1, dtype=np.float32)
    dbms = np.asarray(dbms, dtype=np.float64)
    if maps0.shape != maps1.shape or maps0.ndim != 3 or dbms.shape != maps0.shape[:1]:
        raise ValueError(f"maps {maps0.shape}, {maps1.shape} and dbms {dbms.shape} do not match (F, H, W), (F,)")
    plt = pyplot()
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    n = maps0.shape[0]
    ncols = math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    finite = dbms[np.isfinite(dbms)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    norm = Normalize(lo, hi if hi > lo else lo + 1e-12)
    cmap = plt.get_cmap("Reds")
    vmax = np.nanmax(np.stack([maps0, maps1]).reshape(2, n, -1), axis=(0, 2))
    vmax = np.where(np.isfinite(vmax) & (vmax > 0), vmax, 1.0)

    fig = plt.figure(figsize=(2 * 1.15 * ncols + 1.2, 1.15 * nrows + 0.9), layout="constrained")
    subfigs = fig.subfigures(1, 2)
    for subfig, maps, title in zip(subfigs, (maps0, maps1), titles):
        axes = subfig.subplots(nrows, ncols, squeeze=False)
        for f, ax in enumerate(axes.flat):
            _bare(ax)
            if f >= n:
                ax.set_visible(False)
                continue
            ax.imshow(maps[f].T, origin="lower", cmap="gray", vmin=0, vmax=vmax[f], interpolation="nearest")
            color = cmap(norm(dbms[f])) if np.isfinite(dbms[f]) else (0.8, 0.8, 0.8, 1.0)
            for spine in ax.spines.values():
                spine.set_edgecolor(color)
                spine.set_linewidth(3.0)
            ax.set_title(
                "A" if f == filter_a else str(f), fontsize=7, pad=2, fontweight="bold" if f == filter_a else "normal"
            )
        subfig.suptitle(title, fontsize=10)
    subfigs[1].colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=subfigs[1].axes, shrink=0.8, label="dBMS")
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    save_figure(fig, out, dpi=dpi)


def plot_model_cuts(
    class0: np.ndarray,
    class1: np.ndarray,
    differential: np.ndarray,
    cut_labels: Sequence[str],
    out: str | Path,
    *,
    row_labels: Sequence[str] = ("class 0", "class 1", "differential (1 - 0)"),
    title: str | None = None,
    dpi: int = 110,
) -> None:
    """Figure 3 analogue: the same cuts of one filter's class models and differential model.

    Parameters
    ----------
    class0, class1, differential : (K, H, W) cuts (NaN = no data, drawn as background).
    cut_labels : (K,) column titles.
    out : PNG path.

    The class rows share one sequential color scale; the differential row uses a diverging
    colormap (RdBu_r) symmetric about 0.
    """
    rows = [np.asarray(a, dtype=np.float32) for a in (class0, class1, differential)]
    if not rows[0].shape == rows[1].shape == rows[2].shape or rows[0].ndim != 3:
        raise ValueError(f"cuts must be three (K, H, W) arrays of one shape, got {[r.shape for r in rows]}")
    k = rows[0].shape[0]
    if len(cut_labels) != k:
        raise ValueError(f"{len(cut_labels)} cut labels for {k} cuts")
    plt = pyplot()

    def limit(values, q):
        finite = values[np.isfinite(values)]
        return float(np.percentile(finite, q)) if finite.size else 1.0

    class_max = max(limit(np.abs(rows[0]), 99.5), limit(np.abs(rows[1]), 99.5)) or 1.0
    class_min = min(0.0, limit(rows[0], 0.5), limit(rows[1], 0.5))
    diff_max = limit(np.abs(rows[2]), 99.5) or 1.0
    ncols = max(k, 1)
    fig, axes = plt.subplots(3, ncols, figsize=(2.2 * ncols + 1.5, 7.0), squeeze=False, layout="constrained")
    for r, (cuts, label) in enumerate(zip(rows, row_labels)):
        diverging = r == 2
        style = (
            dict(cmap="RdBu_r", vmin=-diff_max, vmax=diff_max)
            if diverging
            else dict(cmap="viridis", vmin=class_min, vmax=class_max)
        )
        image = None
        for c in range(ncols):
            ax = axes[r, c]
            _bare(ax)
            if c < k:
                image = ax.imshow(cuts[c].T, origin="lower", interpolation="nearest", **style)
                if r == 0:
                    ax.set_title(cut_labels[c], fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
        if image is not None:
            fig.colorbar(
                image, ax=list(axes[r]), shrink=0.9, label="class difference" if diverging else "mean activation"
            )
    if title:
        fig.suptitle(title, fontsize=11)
    save_figure(fig, out, dpi=dpi)
