"""OASIS-1 (cross-sectional) for the brain-MRI study: download, clinical table, cohort layout.

OASIS-1 holds 416 subjects aged 18-96 (plus 20 re-scans of the reliability set), released as
12 ``tar.gz`` discs and a clinical CSV (CDR, MMSE, age, sex, ...). The young subjects have
no CDR (blank cells); they are excluded from the study and counted.

* :func:`~.oasis_fetch.fetch_oasis` (in :mod:`.oasis_fetch`) -- download and unpack the clinical
  CSV and the discs (staged, safe, resumable per disc), recording sources, sizes and checksums.
* :func:`~.oasis_clinical.read_clinical` (in :mod:`.oasis_clinical`) -- parse
  ``oasis_cross-sectional.csv``.
* :func:`build_oasis_cohort` -- select subjects by CDR, find their scans on the extracted
  discs and write the cohort table ``subjects.csv`` (see the cohort layout in
  :mod:`cnnpractice.brain`) with ``selection.json``.
* :func:`oasis_affine` -- the voxel-to-world affine of OASIS Analyze images, which carry
  no orientation.

Orientation (checked offline with nibabel 5.4.2, not on real OASIS files): nibabel opens
an Analyze ``.hdr``/``.img`` pair as ``Spm2AnalyzeImage`` and, when the header's SPM origin
is unset, gives it the Analyze default affine: radiological (axis codes L, A, S), centred
on the volume. The atlas-registered ``T88_111`` images are stored L, A, S (as converted
by braindataprep, ``make_affine(..., orient='LAS')``), so nibabel's affine already maps
them to RAS world axes and no flip is needed. The ``RAW`` scans are sagittal, stored A, S,
L with 1 x 1 x 1.25 mm voxels (brainder.org, "Converting OASIS brains to NIFTI": sform
``0 0 -1.25 0 / 1 0 0 0 / 0 1 0 0``; braindataprep: ``orient='ASL'``), which nibabel
mislabels; :func:`build_oasis_cohort` therefore writes NIfTI copies with
:func:`oasis_affine` for any image whose nibabel axis codes differ from the expected ones.
Left/right can only be confirmed on real data (a vitamin E capsule marks the subject's
left side, Marcus et al. 2007).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from cnnpractice.brain.oasis_clinical import CDR_VALUES, CLINICAL_NAME, N_DISCS, OASIS1_CDR, read_clinical
from cnnpractice.io import write_json
from cnnpractice.tables import write_csv

# image kind -> (folder under the session, file-name pattern with {sid}, axis codes)
IMAGES = {
    "t88_masked_gfc": ("PROCESSED/MPRAGE/T88_111", "{sid}_mpr_n*_anon_111_t88_masked_gfc.img", ("L", "A", "S")),
    "t88_gfc": ("PROCESSED/MPRAGE/T88_111", "{sid}_mpr_n*_anon_111_t88_gfc.img", ("L", "A", "S")),
    "raw": ("RAW", "{sid}_mpr-1_anon.img", ("A", "S", "L")),
}
_ZOOMS = {"t88_masked_gfc": (1.0, 1.0, 1.0), "t88_gfc": (1.0, 1.0, 1.0), "raw": (1.0, 1.0, 1.25)}


# ---------------------------------------------------------------------------
# orientation
# ---------------------------------------------------------------------------


def oasis_affine(image: str, shape, zooms=None) -> np.ndarray:
    """Voxel-to-world (RAS, mm) affine of an OASIS-1 Analyze image, centred on the volume.

    Parameters
    ----------
    image : one of ``IMAGES`` (``"t88_masked_gfc"``, ``"t88_gfc"``: axes L, A, S;
        ``"raw"``: sagittal, axes A, S, L).
    shape : the volume's (X, Y, Z) shape (176, 208, 176 for T88; 256, 256, 128 for raw).
    zooms : voxel sizes along the three stored axes; default 1 mm (1, 1, 1.25 for raw).

    Returns
    -------
    (4, 4) float64 array; the centre voxel ``(shape - 1) / 2`` maps to world (0, 0, 0).
    """
    codes = _image_spec(image)[2]
    zooms = np.asarray(_ZOOMS[image] if zooms is None else zooms, dtype=np.float64)[:3]
    axes = {"R": (0, 1.0), "L": (0, -1.0), "A": (1, 1.0), "P": (1, -1.0), "S": (2, 1.0), "I": (2, -1.0)}
    affine = np.eye(4)
    affine[:3, :3] = 0.0
    for col, code in enumerate(codes):
        row, sign = axes[code]
        affine[row, col] = sign * zooms[col]
    centre = (np.asarray(shape[:3], dtype=np.float64) - 1.0) / 2.0
    affine[:3, 3] = -affine[:3, :3] @ centre
    return affine


def _image_spec(image: str):
    if image not in IMAGES:
        raise ValueError(f"unknown OASIS image {image!r}; expected one of {sorted(IMAGES)}")
    return IMAGES[image]


# ---------------------------------------------------------------------------
# cohort
# ---------------------------------------------------------------------------


def _find_discs(raw_dir: Path) -> dict[int, Path]:
    discs: dict[int, Path] = {}
    nested = [p for p in raw_dir.glob("*/disc*") if not p.parent.name.startswith(".")]
    for path in [*raw_dir.glob("disc*"), *nested]:  # (hidden folders: fetch_oasis stages)
        match = re.fullmatch(r"disc(\d+)", path.name)
        if not (match and path.is_dir()):
            continue
        n = int(match.group(1))
        if n in discs:
            raise ValueError(f"{raw_dir}: disc {n} found twice ({discs[n]} and {path})")
        discs[n] = path
    if not discs:
        raise FileNotFoundError(
            f"{raw_dir}: no extracted OASIS-1 disc folder (disc1 ... disc12); run fetch_oasis first"
        )
    return discs


def _covered(discs: dict[int, Path], sessions: dict[str, tuple[int, Path]]):
    """Subject-number intervals the downloaded discs cover (discs hold ascending numbers)."""
    spans = {}
    for name, (disc, _) in sessions.items():
        n = int(name[5:9])
        lo, hi = spans.get(disc, (n, n))
        spans[disc] = (min(lo, n), max(hi, n))
    intervals = []
    for disc, (lo, hi) in spans.items():
        if disc == 1 or (disc - 1) in spans:
            lo = 0 if disc == 1 else spans[disc - 1][1]
        if disc == N_DISCS or (disc + 1) in spans:
            hi = 10_000 if disc == N_DISCS else spans[disc + 1][0]
        intervals.append((lo, hi))
    return lambda number: any(lo <= number <= hi for lo, hi in intervals)


def _group_name(values: tuple[float, ...]) -> str:
    if len(values) == 1:
        return f"CDR {values[0]:g}"
    if set(values) >= {v for v in OASIS1_CDR if v >= values[0]}:
        return f"CDR >= {values[0]:g}"
    return "CDR " + "/".join(f"{v:g}" for v in values)


def _cdr_set(values, what: str) -> tuple[float, ...]:
    out = tuple(sorted({float(v) for v in values}))
    bad = [v for v in out if v not in CDR_VALUES]
    if bad or not out:
        raise ValueError(f"{what} must be a non-empty set of CDR values from {list(CDR_VALUES)}; got {list(values)}")
    return out


def _volume_path(image: str, path: Path, subject: str, out_dir: Path) -> tuple[Path, bool]:
    """``path`` itself, or a NIfTI copy with :func:`oasis_affine` when nibabel mislabels it."""
    import nibabel as nib

    from cnnpractice.brain.volumes import VolumeError, save_volume

    try:
        img = nib.load(str(path))
    except Exception as exc:
        raise VolumeError(f"{path}: not a readable Analyze volume ({exc})") from exc
    if nib.aff2axcodes(img.affine) == IMAGES[image][2]:
        return path, False
    target = out_dir / "volumes" / f"{subject}_{image}.nii.gz"
    shape = tuple(int(s) for s in img.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    data = np.asarray(img.dataobj).reshape(shape)
    save_volume(target, data, oasis_affine(image, shape, img.header.get_zooms()[:3]))
    return target, True


def _int(value: float | None) -> int | float | None:
    return int(value) if value is not None and float(value).is_integer() else value


def build_oasis_cohort(
    raw_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    image: str = "t88_masked_gfc",
    control_cdr=(0.0,),
    impaired_cdr=(0.5, 1.0, 2.0),
    first_session_only: bool = True,
    max_per_class: int | None = None,
    seed: int = 0,
    clinical: str | os.PathLike | None = None,
) -> list[dict]:
    """Select OASIS-1 subjects by CDR and write the cohort table.

    Subjects with a CDR in ``control_cdr`` get label 0, in ``impaired_cdr`` label 1; rows
    without CDR (the young subjects) or with another CDR are excluded and counted. Each
    subject's scan is looked up under the extracted discs
    (``raw_dir/disc<N>/OAS1_XXXX_MR1/PROCESSED/MPRAGE/T88_111/
    OAS1_XXXX_MR1_mpr_n<k>_anon_111_t88_masked_gfc.img``, with ``n<k>`` the number of
    averaged runs; ``t88_gfc`` without brain mask; ``raw`` = ``RAW/..._mpr-1_anon.img``).
    A subject whose number lies outside the span of the downloaded discs is excluded and
    counted; one inside it whose folder or scan is missing is an error. Images nibabel
    would orient wrongly (``raw``) are copied to ``out_dir/volumes/`` as NIfTI with
    :func:`oasis_affine`.

    Parameters
    ----------
    raw_dir : what :func:`fetch_oasis` filled (``disc<N>`` folders, directly or one level
        down, and the clinical CSV).
    out_dir : receives ``subjects.csv`` and ``selection.json``.
    image : ``"t88_masked_gfc"``, ``"t88_gfc"`` or ``"raw"``.
    control_cdr, impaired_cdr : disjoint CDR sets (the talk: CDR 0 vs CDR 1).
    first_session_only : drop the reliability re-scans (``MR2``).
    max_per_class : seeded random subsample per class (None: all).
    seed : seed of that subsample.
    clinical : the clinical CSV; default ``raw_dir/oasis_cross-sectional.csv``.

    Returns
    -------
    list of dict, the rows of ``subjects.csv`` sorted by subject: ``subject, label, group,
    volume, cdr, age, sex, mmse, session, disc``.

    Raises
    ------
    ValueError
        Bad CDR sets or image kind, an empty class, or subjects whose scan is missing on a
        downloaded disc (the first few listed).
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    folder, pattern, _ = _image_spec(image)
    control, impaired = _cdr_set(control_cdr, "control_cdr"), _cdr_set(impaired_cdr, "impaired_cdr")
    if set(control) & set(impaired):
        raise ValueError(f"control_cdr {list(control)} and impaired_cdr {list(impaired)} overlap")
    groups = {0: _group_name(control), 1: _group_name(impaired)}
    table = read_clinical(clinical if clinical is not None else raw_dir / CLINICAL_NAME)
    discs = _find_discs(raw_dir)
    sessions = {p.name: (n, p) for n, d in discs.items() for p in d.glob("OAS1_*_MR*") if p.is_dir()}
    on_discs = _covered(discs, sessions)

    counts = {
        "rows": len(table),
        "other_session": 0,
        "without_cdr": 0,
        "cdr_not_selected": {},
        "not_on_downloaded_discs": 0,
    }
    chosen, missing = [], []
    for row in table:
        if first_session_only and row["session"] != "MR1":
            counts["other_session"] += 1
            continue
        if row["cdr"] is None:
            counts["without_cdr"] += 1
            continue
        label = 0 if row["cdr"] in control else 1 if row["cdr"] in impaired else None
        if label is None:
            key = f"{row['cdr']:g}"
            counts["cdr_not_selected"][key] = counts["cdr_not_selected"].get(key, 0) + 1
            continue
        if row["id"] not in sessions:
            if on_discs(row["number"]):
                missing.append(f"{row['id']} (no session folder)")
            else:
                counts["not_on_downloaded_discs"] += 1
            continue
        disc, session_dir = sessions[row["id"]]
        found = sorted((session_dir / folder).glob(pattern.format(sid=row["id"])))
        found = [p for p in found if p.with_suffix(".hdr").is_file()]
        if len(found) != 1:
            what = "no" if not found else f"{len(found)}"
            missing.append(
                f"{row['id']} ({what} {pattern.format(sid=row['id'])} with its .hdr in {session_dir / folder})"
            )
            continue
        chosen.append((row, label, disc, found[0]))
    if missing:
        raise ValueError(
            f"{len(missing)} selected OASIS-1 subject(s) on the downloaded discs "
            f"have no {image!r} scan, e.g. {missing[:5]}; re-extract the disc(s)"
        )

    available = {g: sum(lab == c for _, lab, _, _ in chosen) for c, g in groups.items()}
    empty = [g for g, n in available.items() if n == 0]
    if empty:
        raise ValueError(f"no subject in class(es) {empty} on the downloaded discs ({sorted(discs)}); counts {counts}")
    rng = np.random.default_rng(seed)
    keep = []
    for c in (0, 1):
        members = [item for item in chosen if item[1] == c]
        if max_per_class is not None and len(members) > max_per_class:
            idx = np.sort(rng.choice(len(members), size=int(max_per_class), replace=False))
            members = [members[i] for i in idx]
        keep.extend(members)

    rows, converted = [], 0
    for row, label, disc, path in sorted(keep, key=lambda item: item[0]["id"]):
        volume, copied = _volume_path(image, path, row["subject"], out_dir)
        converted += copied
        rows.append(
            {
                "subject": row["subject"],
                "label": label,
                "group": groups[label],
                "volume": str(volume),
                "cdr": row["cdr"],
                "age": _int(row["age"]),
                "sex": row["sex"],
                "mmse": _int(row["mmse"]),
                "session": row["session"],
                "disc": disc,
            }
        )
    columns = ["subject", "label", "group", "volume", "cdr", "age", "sex", "mmse", "session", "disc"]
    write_csv(out_dir / "subjects.csv", rows, columns)
    selection = {
        **counts,
        "image": image,
        "clinical": str(clinical or raw_dir / CLINICAL_NAME),
        "discs": sorted(discs),
        "missing_discs": sorted(set(range(1, N_DISCS + 1)) - set(discs)),
        "groups": {str(c): g for c, g in groups.items()},
        "available_per_class": available,
        "per_class": {g: sum(r["label"] == c for r in rows) for c, g in groups.items()},
        "max_per_class": max_per_class,
        "seed": seed,
        "converted_to_nifti": converted,
    }
    write_json(out_dir / "selection.json", selection)
    return rows
