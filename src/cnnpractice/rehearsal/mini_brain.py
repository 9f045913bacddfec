"""Miniatures of the brain study's downloads: OASIS-1 (discs and clinical CSV), Harvard-Oxford.

* ``oasis``: ``oasis_cross-sectional_disc<N>.tar.gz`` for N = 1..12 (URLs from
  :mod:`cnnpractice.brain.oasis_fetch`), each ``disc<N>/OAS1_XXXX_MR<k>/`` with
  ``PROCESSED/MPRAGE/T88_111/OAS1_XXXX_MR<k>_mpr_n<r>_anon_111_t88_{masked_gfc,gfc}.{hdr,img}``
  (Analyze 7.5, big-endian int16, 176 x 208 x 176 x 1, 1 mm) and
  ``RAW/OAS1_XXXX_MR<k>_mpr-1_anon.{hdr,img}`` (256 x 256 x 128 x 1, 1 x 1 x 1.25 mm,
  stored A, S, L). Per disc two sessions: one CDR 0 subject and one
  CDR 1 (odd discs) or CDR 0.5 (even discs); disc 1 also holds a reliability re-scan
  (``MR2``). ``oasis_cross-sectional.csv`` has the real columns (``ID, M/F, Hand, Age,
  Educ, SES, MMSE, CDR, eTIV, nWBV, ASF, Delay``), one row per session above plus one
  young subject per disc (no CDR/MMSE/Educ/SES, as in the real table) whose session the
  miniature leaves off the disc (the code excludes such rows before looking for scans).
  Not in the miniature: the other RAW runs, ``SUBJ_111``, ``FSL_SEG``, the ``.gif``
  previews and the session ``.txt``/``.xml`` files (nothing reads them). The volumes are
  nilearn's MNI152 template resampled onto the T88 grid, shifted by a few voxels per
  subject, with an intensity loss around both hippocampi for CDR > 0; byte order and the
  4D shape are what the OASIS documentation and nibabel reports suggest, not checked
  against a real disc.
* ``harvard_oxford``: ``HarvardOxford.tgz`` (the NITRC URL nilearn's
  ``fetch_atlas_harvard_oxford`` downloads, :data:`HO_URL`) with ``data/atlases/
  HarvardOxford-{Cortical,Subcortical}.xml`` (FSL atlas XML: ``<label index x y z>``,
  the 48 cortical and 21 subcortical names, typos included) and ``data/atlases/
  HarvardOxford/HarvardOxford-{cort,sub}-maxprob-thr{0,25,50}-2mm.nii.gz`` (91 x 109 x 91,
  2 mm, FSL's MNI152 affine, uint8 labels = XML index + 1). The regions are sectors of an
  ellipsoidal brain, not anatomy. Not in the miniature: the 1 mm, probabilistic and
  lateralised (``cortl``) maps.
"""

from __future__ import annotations

import numpy as np

from cnnpractice.rehearsal.formats import analyze_pair, nifti_gz_bytes, tar_gz_bytes
from cnnpractice.rehearsal.layout import Writer

T88_SHAPE = (176, 208, 176)
RAW_SHAPE = (256, 256, 128)
#: nilearn 0.13's URL of FSL's Harvard-Oxford atlases (nilearn.datasets.atlas).
HO_URL = "https://www.nitrc.org/frs/download.php/9902/HarvardOxford.tgz"
HO_AFFINE = np.array([[-2.0, 0, 0, 90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1]])
HO_SHAPE = (91, 109, 91)
HO_CORTICAL = """
Frontal Pole
Insular Cortex
Superior Frontal Gyrus
Middle Frontal Gyrus
Inferior Frontal Gyrus, pars triangularis
Inferior Frontal Gyrus, pars opercularis
Precentral Gyrus
Temporal Pole
Superior Temporal Gyrus, anterior division
Superior Temporal Gyrus, posterior division
Middle Temporal Gyrus, anterior division
Middle Temporal Gyrus, posterior division
Middle Temporal Gyrus, temporooccipital part
Inferior Temporal Gyrus, anterior division
Inferior Temporal Gyrus, posterior division
Inferior Temporal Gyrus, temporooccipital part
Postcentral Gyrus
Superior Parietal Lobule
Supramarginal Gyrus, anterior division
Supramarginal Gyrus, posterior division
Angular Gyrus
Lateral Occipital Cortex, superior division
Lateral Occipital Cortex, inferior division
Intracalcarine Cortex
Frontal Medial Cortex
Juxtapositional Lobule Cortex (formerly Supplementary Motor Cortex)
Subcallosal Cortex
Paracingulate Gyrus
Cingulate Gyrus, anterior division
Cingulate Gyrus, posterior division
Precuneous Cortex
Cuneal Cortex
Frontal Orbital Cortex
Parahippocampal Gyrus, anterior division
Parahippocampal Gyrus, posterior division
Lingual Gyrus
Temporal Fusiform Cortex, anterior division
Temporal Fusiform Cortex, posterior division
Temporal Occipital Fusiform Cortex
Occipital Fusiform Gyrus
Frontal Operculum Cortex
Central Opercular Cortex
Parietal Operculum Cortex
Planum Polare
Heschl's Gyrus (includes H1 and H2)
Planum Temporale
Supracalcarine Cortex
Occipital Pole
""".strip().splitlines()
HO_SUBCORTICAL = """
Left Cerebral White Matter
Left Cerebral Cortex
Left Lateral Ventrical
Left Thalamus
Left Caudate
Left Putamen
Left Pallidum
Brain-Stem
Left Hippocampus
Left Amygdala
Left Accumbens
Right Cerebral White Matter
Right Cerebral Cortex
Right Lateral Ventricle
Right Thalamus
Right Caudate
Right Putamen
Right Pallidum
Right Hippocampus
Right Amygdala
Right Accumbens
""".strip().splitlines()


# --------------------------------------------------------------------------- OASIS-1


def _world(affine: np.ndarray, shape) -> list[np.ndarray]:
    """World coordinates (mm) x, y, z of a grid with a diagonal affine, as broadcastable 1D arrays."""
    if np.count_nonzero(affine[:3, :3] - np.diag(np.diag(affine[:3, :3]))):
        raise ValueError("_world needs a diagonal affine")
    axes = [affine[i, i] * np.arange(n, dtype=np.float32) + affine[i, 3] for i, n in enumerate(shape)]
    return [a.reshape([-1 if j == i else 1 for j in range(3)]) for i, a in enumerate(axes)]


def axis_resample(src: np.ndarray, src_affine, dst_affine, dst_shape, fill=0) -> np.ndarray:
    """Nearest-neighbour resampling between two grids whose affines only permute, flip and
    scale the axes (no rotation): one 1D index per axis, so it costs one gather. The
    result is Fortran-ordered (first axis fastest), as Analyze stores voxels."""
    vox = np.linalg.solve(np.asarray(src_affine, float), np.asarray(dst_affine, float))  # dst voxel -> src voxel
    perm = [int(np.argmax(np.abs(vox[:3, j]))) for j in range(3)]
    if sorted(perm) != [0, 1, 2] or np.count_nonzero(np.abs(vox[:3, :3]) > 1e-9) != 3:
        raise ValueError("axis_resample: the affines differ by more than an axis permutation and scaling")
    src = np.transpose(src, perm)
    index = [
        np.rint(vox[i, j] * np.arange(n) + vox[i, 3]).astype(np.int64) for j, (i, n) in enumerate(zip(perm, dst_shape))
    ]
    valid = [(ix >= 0) & (ix < src.shape[j]) for j, ix in enumerate(index)]
    clipped = [np.clip(ix, 0, src.shape[j] - 1) for j, ix in enumerate(index)]
    # gather in reversed axis order, so the result is Fortran-ordered: Analyze's voxel order
    out = src.transpose(2, 1, 0)[np.ix_(clipped[2], clipped[1], clipped[0])].T
    inside = (valid[2][:, None, None] & valid[1][None, :, None] & valid[0][None, None, :]).T
    return np.where(inside, out, np.asarray(fill, out.dtype))


def t88_base() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(brain float32, brain mask, head mask) on the T88 grid, from nilearn's MNI152 template."""
    from nilearn import datasets
    from scipy import ndimage

    from cnnpractice.brain.oasis import oasis_affine

    template = datasets.load_mni152_template(resolution=1)
    mask = datasets.load_mni152_brain_mask(resolution=1)
    target = oasis_affine("t88_masked_gfc", T88_SHAPE)
    brain = axis_resample(np.asarray(template.dataobj, np.float32), template.affine, target, T88_SHAPE)
    inside = axis_resample(np.asarray(mask.dataobj) > 0, mask.affine, target, T88_SHAPE, False)
    head = np.asfortranarray(ndimage.maximum_filter(inside.view(np.uint8), size=11).astype(bool))
    return brain, inside, head  # Fortran-ordered, like everything made from them


def _subject(base, rng: np.random.Generator, cdr: float, hippocampi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(masked_gfc, gfc) int16 volumes of one subject: shifted, scaled, atrophied when cdr > 0."""
    brain, inside, head = base
    shift = tuple(int(s) for s in rng.integers(-3, 4, size=3))
    vol = brain * np.float32(700.0 * rng.uniform(0.9, 1.1))
    vol[hippocampi] *= np.float32(1.0 - 0.25 * min(cdr, 2.0))
    vol = np.roll(vol, shift, axis=(0, 1, 2))
    inside, head = np.roll(inside, shift, axis=(0, 1, 2)), np.roll(head, shift, axis=(0, 1, 2))
    masked = (np.where(inside, vol, 0) / 8).round().astype(np.int16) * 8  # coarse steps compress fast
    gfc = np.where(head & ~inside, np.int16(160), masked).astype(np.int16)
    return masked, gfc


def _analyze_members(prefix: str, data: np.ndarray, zooms) -> list[tuple[str, bytes]]:
    hdr, img = analyze_pair(data[..., None], zooms)
    return [(f"{prefix}.hdr", hdr), (f"{prefix}.img", img)]


def _sessions(w: Writer) -> list[dict]:
    """The clinical rows, in ID order; ``on_disc`` False for rows left off the discs."""
    from cnnpractice.brain.oasis_fetch import N_DISCS

    rng = w.rng("oasis", "clinical")
    rows = []
    for disc in range(1, N_DISCS + 1):
        first = 38 * (disc - 1) + 1
        for k, cdr in enumerate((0.0, 1.0 if disc % 2 else 0.5, None)):  # None: the disc's young subject
            young = cdr is None
            row = {
                "ID": f"OAS1_{first + 3 * k:04d}_MR1",
                "M/F": "F" if rng.random() < 0.6 else "M",
                "Hand": "R",
                "Age": int(rng.integers(18, 60) if young else rng.integers(62, 95)),
                "Educ": "" if young else int(rng.integers(1, 6)),
                "SES": "" if young else int(rng.integers(1, 6)),
                "MMSE": "" if young else int(29 - 6 * cdr - rng.integers(0, 3)),
                "CDR": "" if young else f"{cdr:g}",
                "eTIV": int(rng.integers(1100, 2000)),
                "nWBV": f"{rng.uniform(0.66, 0.84):.3f}",
                "ASF": f"{rng.uniform(0.9, 1.5):.3f}",
                "Delay": "N/A",
                "disc": disc,
                "cdr": cdr,
                "on_disc": not young,
                "runs": int(rng.integers(3, 5)),
            }
            rows.append(row)
            if disc == 1 and k == 0:  # a reliability re-scan of the first subject
                rows.append({**row, "ID": row["ID"].replace("_MR1", "_MR2"), "Delay": int(rng.integers(1, 90))})
    return rows


def build_oasis(w: Writer) -> None:
    from cnnpractice.brain.oasis_fetch import N_DISCS, OASIS1_CLINICAL_URL, OASIS1_DISC_MD5, OASIS1_DISC_URL

    rows = _sessions(w)
    columns = ["ID", "M/F", "Hand", "Age", "Educ", "SES", "MMSE", "CDR", "eTIV", "nWBV", "ASF", "Delay"]
    csv = ",".join(columns) + "\n" + "".join(",".join(str(r[c]) for c in columns) + "\n" for r in rows)
    w.serve("oasis", OASIS1_CLINICAL_URL, csv.encode())

    from cnnpractice.brain.oasis import oasis_affine

    base = t88_base()
    x, y, z = _world(oasis_affine("t88_gfc", T88_SHAPE), T88_SHAPE)
    hippocampi = np.zeros(T88_SHAPE, bool, order="F")
    for centre in (-26.0, 26.0):
        hippocampi |= (x - centre) ** 2 + (y + 22) ** 2 + (z + 14) ** 2 < 10.0**2
    t88_affine, raw_affine = oasis_affine("t88_gfc", T88_SHAPE), oasis_affine("raw", RAW_SHAPE)
    for disc in range(1, N_DISCS + 1):
        members = [(f"disc{disc}/", b"")]
        for row in (r for r in rows if r["disc"] == disc and r["on_disc"]):
            sid = row["ID"]
            masked, gfc = _subject(base, w.rng("oasis", sid), row["cdr"], hippocampi)
            raw = axis_resample(gfc, t88_affine, raw_affine, RAW_SHAPE)
            t88 = f"disc{disc}/{sid}/PROCESSED/MPRAGE/T88_111/{sid}_mpr_n{row['runs']}_anon_111_t88"
            members += [(f"disc{disc}/{sid}/", b""), (f"disc{disc}/{sid}/RAW/", b"")]
            members += _analyze_members(f"disc{disc}/{sid}/RAW/{sid}_mpr-1_anon", raw, (1.0, 1.0, 1.25))
            members += [(f"disc{disc}/{sid}/PROCESSED/", b""), (f"disc{disc}/{sid}/PROCESSED/MPRAGE/", b"")]
            members.append((f"disc{disc}/{sid}/PROCESSED/MPRAGE/T88_111/", b""))
            members += _analyze_members(f"{t88}_gfc", gfc, (1.0, 1.0, 1.0))
            members += _analyze_members(f"{t88}_masked_gfc", masked, (1.0, 1.0, 1.0))
        md5 = OASIS1_DISC_MD5.get(disc)
        w.serve("oasis", OASIS1_DISC_URL.format(disc=disc), tar_gz_bytes(members, 1), {"md5": md5} if md5 else {})
    w.note(
        "oasis",
        discs=N_DISCS,
        clinical_rows=len(rows),
        sessions_on_discs=sum(r["on_disc"] for r in rows),
        cdr={f"{c:g}": sum(r["cdr"] == c for r in rows if r["ID"].endswith("MR1")) for c in (0.0, 0.5, 1.0)},
        unverified="Analyze byte order (big-endian) and 4D shape of the real volumes",
    )


# --------------------------------------------------------------------------- Harvard-Oxford


def _ho_xml(title: str, summary: str, names: list[str], centres: dict[int, tuple[int, int, int]]) -> bytes:
    from xml.sax.saxutils import escape

    labels = "".join(
        f'<label index="{i}" x="{centres[i][0]}" y="{centres[i][1]}" z="{centres[i][2]}">{escape(n)}</label>\n'
        for i, n in enumerate(names)
    )
    text = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<atlas version="1.0">\n<header>\n'
        f"<name>{title}</name>\n<type>Probabilistic</type>\n<images>\n"
        f"<imagefile>/HarvardOxford/{summary.replace('maxprob-thr25', 'prob')}</imagefile>\n"
        f"<summaryimagefile>/HarvardOxford/{summary}</summaryimagefile>\n</images>\n</header>\n"
        f"<data>\n{labels}</data>\n</atlas>\n"
    )
    return text.encode("iso-8859-1")


def ho_label_maps() -> tuple[np.ndarray, np.ndarray]:
    """(cortical, subcortical) uint8 label maps on the 2 mm grid (values: XML index + 1)."""
    x, y, z = np.broadcast_arrays(*_world(HO_AFFINE, HO_SHAPE))
    r = np.sqrt((x / 68) ** 2 + ((y + 18) / 92) ** 2 + ((z - 12) / 70) ** 2)
    azimuth = np.arctan2(y + 18, np.abs(x))  # bilateral: the cortical atlas names both sides alike
    elevation = np.arctan2(z - 12, np.hypot(np.abs(x), y + 18))
    a_bin = np.clip(((azimuth + np.pi / 2) / np.pi * 8).astype(int), 0, 7)
    e_bin = np.clip(((elevation + np.pi / 2) / np.pi * 6).astype(int), 0, 5)
    cortex = (r < 1.0) & (r >= 0.8)
    cort = np.where(cortex, 1 + e_bin * 8 + a_bin, 0).astype(np.uint8)
    left = x < 0
    sub = np.zeros(HO_SHAPE, np.uint8)
    sub[cortex] = np.where(left, 2, 13)[cortex]  # cerebral cortex
    white = (r >= 0.45) & (r < 0.8)
    sub[white] = np.where(left, 1, 12)[white]  # cerebral white matter
    core = r < 0.45
    sector = np.clip(((np.arctan2(z - 12, y + 18) + np.pi) / (2 * np.pi) * 9).astype(int), 0, 8)
    left_structures = np.array([3, 4, 5, 6, 7, 9, 10, 11, 8])  # ventricle ... accumbens, brain stem
    right_structures = np.array([14, 15, 16, 17, 18, 19, 20, 21, 8])
    sub[core] = np.where(left, left_structures[sector], right_structures[sector])[core]
    return cort, sub


def _centres(labels: np.ndarray, n: int) -> dict[int, tuple[int, int, int]]:
    out = {}
    for index in range(n):
        where = np.argwhere(labels == index + 1)
        out[index] = tuple(int(v) for v in where.mean(axis=0).round()) if len(where) else (0, 0, 0)
    return out


def build_harvard_oxford(w: Writer) -> None:
    cort, sub = ho_label_maps()
    members = [("data/", b""), ("data/atlases/", b""), ("data/atlases/HarvardOxford/", b"")]
    members.append(
        (
            "data/atlases/HarvardOxford-Cortical.xml",
            _ho_xml(
                "Harvard-Oxford Cortical Structural Atlas",
                "HarvardOxford-cort-maxprob-thr25-2mm",
                HO_CORTICAL,
                _centres(cort, len(HO_CORTICAL)),
            ),
        )
    )
    members.append(
        (
            "data/atlases/HarvardOxford-Subcortical.xml",
            _ho_xml(
                "Harvard-Oxford Subcortical Structural Atlas",
                "HarvardOxford-sub-maxprob-thr25-2mm",
                HO_SUBCORTICAL,
                _centres(sub, len(HO_SUBCORTICAL)),
            ),
        )
    )
    for kind, labels in (("cort", cort), ("sub", sub)):
        for threshold in (0, 25, 50):
            name = f"HarvardOxford-{kind}-maxprob-thr{threshold}-2mm.nii.gz"
            members.append((f"data/atlases/HarvardOxford/{name}", nifti_gz_bytes(labels, HO_AFFINE)))
    w.serve("harvard_oxford", HO_URL, tar_gz_bytes(members))
    w.note(
        "harvard_oxford",
        cortical_labels=len(HO_CORTICAL),
        subcortical_labels=len(HO_SUBCORTICAL),
        maps="maxprob thr0/25/50 at 2 mm only",
        unverified="label dtype (uint8) and XML header of the real files",
    )


BUILDERS = {"oasis": build_oasis, "harvard_oxford": build_harvard_oxford}

__all__ = ["BUILDERS", "HO_CORTICAL", "axis_resample", "HO_SUBCORTICAL", "HO_URL", "ho_label_maps", "t88_base"]
