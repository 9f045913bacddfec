"""The template grid every subject is aligned to: MNI152 template, brain mask, labelled atlas.

:func:`prepare_template` writes, on one grid (the MNI152 2009 template that nilearn ships,
at 1 or 2 mm):

* ``template.nii.gz`` -- the template's intensities (0..1) inside the brain mask, 0 outside
  (skull-stripped, like OASIS's ``masked_gfc`` images);
* ``mask.nii.gz`` -- the brain mask (uint8);
* ``atlas.nii.gz`` / ``atlas_labels.csv`` -- an atlas's labels resampled to the grid
  (nearest neighbour) and its ``label,name`` table (:func:`cnnpractice.brain.atlases.load_atlas`).

:func:`load_template` reads the four back.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from cnnpractice.brain.volumes import VolumeError, load_volume, save_volume
from cnnpractice.tables import write_csv

log = logging.getLogger("cnnpractice.brain")

FILES = ("template.nii.gz", "mask.nii.gz", "atlas.nii.gz", "atlas_labels.csv")


def prepare_template(
    out_dir: str | Path, *, resolution: int = 2, atlas: str = "aal", atlas_dir: str | Path | None = None
) -> dict:
    """Write the template, mask and atlas (see module docstring) into ``out_dir``.

    Parameters
    ----------
    resolution : voxel size in mm, 1 or 2 (nilearn's MNI152 template and mask).
    atlas : an atlas name accepted by :func:`cnnpractice.brain.atlases.load_atlas`.
    atlas_dir : nilearn's data folder holding the Harvard-Oxford files (the workflow's
        ``fetch_brain_atlas`` rule fills ``resources/nilearn_data``).

    Returns
    -------
    A summary: grid shape, voxel size, brain voxels, atlas regions.
    """
    from nilearn import datasets

    from cnnpractice.brain.atlases import load_atlas

    if resolution not in (1, 2):
        raise ValueError(f"brain.template.resolution must be 1 or 2 (mm), got {resolution!r}")
    out_dir = Path(out_dir)
    template = datasets.load_mni152_template(resolution=resolution)
    mask_img = datasets.load_mni152_brain_mask(resolution=resolution)
    affine = np.asarray(template.affine, dtype=np.float64)
    mask = np.asarray(mask_img.get_fdata() > 0.5)
    if mask.shape != template.shape or not np.allclose(mask_img.affine, affine):
        raise ValueError("nilearn's MNI152 template and brain mask are not on the same grid")
    data = np.where(mask, np.asarray(template.get_fdata(), dtype=np.float32), 0.0).astype(np.float32)
    labels, names = load_atlas(atlas, affine, data.shape, data_dir=atlas_dir)
    labels = np.where(mask, labels, 0).astype(np.int16)
    present = set(np.unique(labels).tolist()) - {0}
    save_volume(out_dir / "template.nii.gz", data, affine)
    save_volume(out_dir / "mask.nii.gz", mask.astype(np.uint8), affine)
    save_volume(out_dir / "atlas.nii.gz", labels, affine)
    write_csv(
        out_dir / "atlas_labels.csv",
        [{"label": k, "name": v} for k, v in sorted(names.items()) if k in present],
        ["label", "name"],
    )
    summary = {
        "shape": list(data.shape),
        "voxel_mm": resolution,
        "brain_voxels": int(mask.sum()),
        "atlas": atlas,
        "regions": len(present),
    }
    log.info(f"template {summary}")
    return summary


def load_template(template_dir: str | Path) -> dict:
    """Read what :func:`prepare_template` wrote.

    Returns
    -------
    ``{"template": (X,Y,Z) float32, "mask": (X,Y,Z) bool, "atlas": (X,Y,Z) int16,
    "names": {label: name}, "affine": (4, 4)}``.
    """
    template_dir = Path(template_dir)
    missing = [name for name in FILES if not (template_dir / name).exists()]
    if missing:
        raise FileNotFoundError(f"{template_dir}: template files missing: {missing} (run prepare_template)")
    template, affine = load_volume(template_dir / "template.nii.gz")
    mask, _ = load_volume(template_dir / "mask.nii.gz", check_brain=False)
    atlas, _ = load_volume(template_dir / "atlas.nii.gz", dtype=np.int16, check_brain=False)
    if mask.shape != template.shape or atlas.shape != template.shape:
        raise VolumeError(f"{template_dir}: template, mask and atlas are not on the same grid")
    with open(template_dir / "atlas_labels.csv", newline="") as fh:
        names = {int(row["label"]): row["name"] for row in csv.DictReader(fh)}
    return {"template": template, "mask": mask > 0.5, "atlas": atlas, "names": names, "affine": affine}


def region_labels(names: dict[int, str], wanted: list[str], *, key: str) -> dict[str, int]:
    """Labels of the atlas regions named in ``wanted`` (exact names); a clear error naming
    the config ``key`` and close matches for a name the atlas lacks."""
    import difflib

    by_name = {v: k for k, v in names.items()}
    out = {}
    for name in wanted:
        if name not in by_name:
            close = difflib.get_close_matches(name, list(by_name), n=5, cutoff=0.4)
            raise ValueError(f"{key}: the atlas has no region {name!r} (close: {close})")
        out[name] = by_name[name]
    return out
