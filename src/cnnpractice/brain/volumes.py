"""Reading and writing brain volumes (NIfTI, Analyze) with errors that name the file.

Every volume the study reads goes through :func:`load_volume`, which turns nibabel's
low-level failures (a truncated download, a header without its image, a 2D picture saved as
NIfTI) into one :class:`VolumeError` naming the file and what was expected, and rejects
volumes that cannot be a brain scan (too few voxels, no contrast, non-finite values).
Writes are atomic (:func:`save_volume`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnnpractice.io import atomic_path

# A brain at 4 mm is still 40 x 50 x 40 voxels; anything smaller on some axis is not a brain
# volume (a slice, a mask of one region, a thumbnail).
MIN_SIDE = 16
# Share of voxels that must differ from the background (the most common value): a
# skull-stripped brain fills 15-40 % of its field of view.
MIN_FOREGROUND = 0.01


class VolumeError(ValueError):
    """A volume that cannot be read, or is not a brain scan; the message names the file."""


def load_volume(path: str | os.PathLike, *, dtype=np.float32, check_brain: bool = True):
    """Read a 3D volume and its voxel-to-world affine.

    Parameters
    ----------
    path : a NIfTI (``.nii``, ``.nii.gz``) or Analyze (``.img``/``.hdr``) file.
    dtype : dtype of the returned array.
    check_brain : also reject volumes that cannot be a brain scan (see module docstring).

    Returns
    -------
    (data, affine): ``data`` of shape (X, Y, Z) (a trailing axis of length 1, as in
    OASIS's Analyze files, is dropped); ``affine`` (4, 4) float64.

    Raises
    ------
    VolumeError
        Naming ``path``: missing, unreadable, truncated, not 3D, a singular or non-finite
        affine, non-finite values, or not a brain.
    """
    import nibabel as nib

    path = Path(path)
    if not path.exists():
        raise VolumeError(f"{path}: no such volume file")
    try:
        img = nib.load(str(path))
    except Exception as exc:  # nibabel raises several types for bad headers
        raise VolumeError(f"{path}: not a readable NIfTI/Analyze volume ({exc})") from exc
    shape = tuple(int(s) for s in img.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3:
        raise VolumeError(f"{path}: expected a 3D volume, got shape {tuple(img.shape)}")
    try:
        data = np.asarray(img.dataobj, dtype=dtype).reshape(shape)
    except Exception as exc:  # EOFError / ValueError from a short file
        raise VolumeError(
            f"{path}: the image data cannot be read (truncated or damaged file? "
            f"the header promises {shape}, {img.get_data_dtype()}): {exc}"
        ) from exc
    affine = np.asarray(img.affine, dtype=np.float64)
    check_affine(affine, path)
    if check_brain:
        check_brain_volume(data, path)
    return data, affine


def check_affine(affine: np.ndarray, path: str | os.PathLike = "<array>") -> None:
    """Raise :class:`VolumeError` for a voxel-to-world affine that cannot place the volume:
    NaN or infinite entries, or a singular 3x3 part (a zero voxel size, collapsed axes), which
    would send every voxel to one plane or nowhere and make registration meaningless."""
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4) or not np.isfinite(affine).all():
        raise VolumeError(f"{path}: the voxel-to-world affine has NaN or infinite entries (header damaged?)")
    linear = affine[:3, :3]
    scale = float(np.abs(linear).max())
    if scale == 0 or abs(np.linalg.det(linear)) <= 1e-9 * scale**3:
        raise VolumeError(
            f"{path}: the voxel-to-world affine is singular (voxel sizes or axes collapse to zero: "
            f"{np.round(linear, 6).tolist()}); fix the header (qform/sform) before using the volume"
        )


def check_brain_volume(data: np.ndarray, path: str | os.PathLike = "<array>") -> None:
    """Raise :class:`VolumeError` when ``data`` cannot be a brain scan (see module docstring)."""
    if min(data.shape) < MIN_SIDE:
        raise VolumeError(
            f"{path}: shape {data.shape} is too small for a brain volume "
            f"(every side must be at least {MIN_SIDE} voxels)"
        )
    if not np.isfinite(data).all():
        raise VolumeError(f"{path}: contains NaN or infinite values")
    values, counts = np.unique(data[:: max(1, data.shape[0] // 32)], return_counts=True)
    background = values[np.argmax(counts)]
    foreground = float(np.mean(data != background))
    if values.size < 3 or foreground < MIN_FOREGROUND:
        raise VolumeError(
            f"{path}: not a brain scan: {values.size} distinct values, "
            f"{foreground:.2%} of voxels differ from the background (expected at least "
            f"{MIN_FOREGROUND:.0%} and some contrast)"
        )


def save_volume(path: str | os.PathLike, data: np.ndarray, affine: np.ndarray) -> None:
    """Write ``data`` (3D or 4D) with ``affine`` as NIfTI, atomically (gzipped for ``.nii.gz``)."""
    import nibabel as nib

    path = Path(path)
    suffix = ".nii.gz" if path.name.endswith(".nii.gz") else path.suffix
    img = nib.Nifti1Image(np.asarray(data), np.asarray(affine, dtype=np.float64))
    img.header.set_xyzt_units("mm")
    with atomic_path(path, suffix=suffix) as tmp:
        nib.save(img, str(tmp))
