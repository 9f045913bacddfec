"""Named slice configurations: aligned volumes -> 2D slices, with subject ids kept.

A configuration (config ``brain.inputs.<name>``) is a view ``axis`` (sagittal, coronal,
axial), a ``range_mm`` of world coordinates along that axis, a ``step`` (every n-th plane)
and a ``hemisphere`` (``both``, ``left`` or ``right``: voxels of the other side, by world
x, are zeroed). Every plane is resized from its native template-grid size to ``size`` x
``size`` (bilinear) and scaled to uint8 with the subject's robust maximum (the 99.5th
percentile of its brain voxels).

Written into the output directory (the format :mod:`.interpret` reads):

* ``x.npy`` -- uint8 (N, 1, size, size), memory-mappable;
* ``meta.npz`` -- ``subject_index`` (N,) int32 into ``subjects``, ``position`` (N,) int32
  (plane index along ``axis`` in the template grid), ``label`` (N,) int64, ``subjects`` (M,)
  str, ``subject_label`` (M,) int64, ``axis`` () int, ``plane_shape`` (2,) int,
  ``template_shape`` (3,) int;
* ``info.json`` -- the configuration and counts.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.brain.template import load_template
from cnnpractice.brain.volumes import VolumeError, load_volume
from cnnpractice.io import atomic_path, save_npz, write_json

log = logging.getLogger("cnnpractice.brain")

AXES = {"sagittal": 0, "coronal": 1, "axial": 2}
HEMISPHERES = ("both", "left", "right")


def slice_positions(
    affine: np.ndarray, shape: Sequence[int], axis: int, range_mm: Sequence[float], step: int = 1
) -> np.ndarray:
    """Plane indices along ``axis`` whose world coordinate lies in ``range_mm`` (inclusive),
    every ``step``-th one. The grid must be axis-aligned (a diagonal affine)."""
    if not np.allclose(affine[:3, :3], np.diag(np.diag(affine[:3, :3]))):
        raise ValueError("slicing needs an axis-aligned template grid (diagonal affine)")
    lo, hi = sorted(float(v) for v in range_mm)
    coords = affine[axis, axis] * np.arange(shape[axis]) + affine[axis, 3]
    positions = np.flatnonzero((coords >= lo - 1e-6) & (coords <= hi + 1e-6))
    if positions.size == 0:
        raise ValueError(
            f"no plane of axis {axis} lies in range_mm {list(range_mm)} "
            f"(the grid spans {coords.min():.0f} to {coords.max():.0f} mm)"
        )
    return positions[:: int(step)].astype(np.int32)


def hemisphere_mask(affine: np.ndarray, shape: Sequence[int], hemisphere: str) -> np.ndarray | None:
    """Boolean (X,Y,Z) mask of the kept hemisphere (world x < 0 is left), None for both."""
    if hemisphere not in HEMISPHERES:
        raise ValueError(f"hemisphere must be one of {HEMISPHERES}, got {hemisphere!r}")
    if hemisphere == "both":
        return None
    x = affine[0, 0] * np.arange(shape[0]) + affine[0, 3]
    keep = x < 0 if hemisphere == "left" else x > 0
    return np.broadcast_to(keep[:, None, None], tuple(shape))


def planes(volume: np.ndarray, axis: int, positions: np.ndarray, size: int) -> np.ndarray:
    """The planes at ``positions`` along ``axis``, each resized to (size, size) bilinearly.

    Shapes: volume (X,Y,Z) -> (P, size, size) float32 (one ``zoom`` call for all planes).
    """
    from scipy.ndimage import zoom

    stack = np.moveaxis(volume, axis, 0)[positions].astype(np.float32)
    factors = (1.0, size / stack.shape[1], size / stack.shape[2])
    return zoom(stack, factors, order=1, grid_mode=False, mode="nearest")[:, :size, :size]


def robust_max(volume: np.ndarray, mask: np.ndarray) -> float:
    """A subject's intensity scale: the 99.5th percentile of its brain voxels (bright outliers
    and the bias field's peak do not set it)."""
    return float(np.percentile(volume[mask], 99.5))


def to_uint8(values: np.ndarray, scale: float) -> np.ndarray:
    """``values / scale`` clipped to [0, 1], as uint8 0..255."""
    return np.round(np.clip(values / max(scale, 1e-12), 0.0, 1.0) * 255.0).astype(np.uint8)


def read_included(qc_csv: str | Path) -> list[dict[str, str]]:
    """Rows of the QC table (``collect_qc``) whose ``included`` is true."""
    with open(qc_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    need = {"subject", "label", "aligned", "included"}
    if rows and not need <= set(rows[0]):
        raise ValueError(f"{qc_csv}: expected columns {sorted(need)}, got {sorted(rows[0])}")
    kept = [r for r in rows if r["included"].lower() == "true"]
    if not kept:
        raise ValueError(f"{qc_csv}: no subject passed alignment QC")
    return kept


def extract_slices(
    *, qc_csv: str | Path, template_dir: str | Path, out_dir: str | Path, spec: Mapping[str, Any], size: int
) -> dict[str, Any]:
    """Slice every included subject's aligned volume by configuration ``spec`` (see module
    docstring) into ``out_dir``. Streams: one volume in memory at a time."""
    out_dir = Path(out_dir)
    if spec["axis"] not in AXES:
        raise ValueError(f"axis must be one of {sorted(AXES)}, got {spec['axis']!r}")
    axis = AXES[spec["axis"]]
    tpl = load_template(template_dir)
    shape, affine, mask = tpl["template"].shape, tpl["affine"], tpl["mask"]
    hemi = hemisphere_mask(affine, shape, spec.get("hemisphere", "both"))
    keep = mask if hemi is None else mask & hemi
    positions = slice_positions(affine, shape, axis, spec["range_mm"], spec.get("step", 1))
    rows = read_included(qc_csv)
    n = len(rows) * len(positions)
    x_path = out_dir / "x.npy"
    with atomic_path(x_path) as tmp:
        x = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, 1, size, size))
        for i, row in enumerate(rows):
            volume, vol_affine = load_volume(row["aligned"])
            if volume.shape != shape or not np.allclose(vol_affine, affine, atol=1e-3):
                raise VolumeError(f"{row['aligned']}: not on the template grid {shape}")
            scale = robust_max(volume, mask)
            volume = np.where(keep, volume, 0.0)
            x[i * len(positions) : (i + 1) * len(positions), 0] = to_uint8(planes(volume, axis, positions, size), scale)
        x.flush()
        del x
    labels = np.array([int(r["label"]) for r in rows], dtype=np.int64)
    subject_index = np.repeat(np.arange(len(rows), dtype=np.int32), len(positions))
    plane_shape = np.array([s for k, s in enumerate(shape) if k != axis], dtype=np.int64)
    save_npz(
        out_dir / "meta.npz",
        subject_index=subject_index,
        position=np.tile(positions, len(rows)).astype(np.int32),
        label=labels[subject_index],
        subjects=np.array([r["subject"] for r in rows]),
        subject_label=labels,
        axis=np.array(axis),
        plane_shape=plane_shape,
        template_shape=np.array(shape, dtype=np.int64),
    )
    info = {
        "spec": dict(spec),
        "size": size,
        "subjects": len(rows),
        "slices_per_subject": int(len(positions)),
        "slices": n,
        "positions": positions.tolist(),
    }
    write_json(out_dir / "info.json", info)
    log.info(f"slices {spec}: {len(rows)} subjects x {len(positions)} planes -> {out_dir}")
    return info


def load_slices(slices_dir: str | Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(x memmap (N,1,S,S) uint8, meta arrays) of an :func:`extract_slices` directory."""
    from cnnpractice.io import load_npz

    slices_dir = Path(slices_dir)
    meta = load_npz(
        slices_dir / "meta.npz",
        required={
            "subject_index": "i",
            "position": "i",
            "label": "i",
            "subjects": "U",
            "subject_label": "i",
            "axis": "i",
            "plane_shape": "i",
            "template_shape": "i",
        },
    )
    x = np.load(slices_dir / "x.npy", mmap_mode="r")
    if x.dtype != np.uint8 or x.ndim != 4 or len(x) != len(meta["label"]):
        raise ValueError(
            f"{slices_dir}/x.npy: expected uint8 (N, 1, S, S) with N = {len(meta['label'])}, got {x.dtype} {x.shape}"
        )
    return x, meta
