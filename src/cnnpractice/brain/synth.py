"""The offline default's synthetic cohort: template copies with planted atrophy, misaligned.

No MRI can be downloaded on the machines the default workflow must run on, so the
workflow makes its own cohort from the template (:mod:`.template`). Subject ``i``:

1. anatomy, in template space: the skull-stripped template. Every subject gets
   *distractor* atrophy in a few random atlas regions (random severity; the same law in
   both classes, so it carries no class information: normal anatomical variation). The
   impaired class (label 1) also gets atrophy in every *planted* region with a random
   per-subject severity ``s``. Atrophy of region R multiplies intensities by
   ``1 - s * w_R``, with ``w_R`` the region's indicator smoothed by a Gaussian
   (``smoothing_mm``): tissue darkens towards CSF, most in the region's core.
2. position: a random affine ``A`` (rotations about the brain's centre, translations,
   per-axis scales; :func:`cnnpractice.brain.registration.random_affine`) moves the head:
   the subject's image at world point p is the anatomy at ``A @ p``. Registration should
   find ``T = inv(A)``.
3. acquisition: a smooth multiplicative bias field ``exp(b * g)`` (``g`` low-frequency
   noise scaled to [-1, 1]), a global intensity gain ``1 + U(-v, v)``, and Gaussian noise
   with standard deviation ``noise`` times the mean brain intensity, clipped at 0.

Written: ``volumes/<subject>.nii.gz`` (float32, the template's grid and affine),
``subjects.csv`` (``subject,label,group,volume,severity``) and ``ground_truth.json``
(planted regions and labels, every subject's severity, distractor regions and ``A``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.brain.template import load_template, region_labels
from cnnpractice.brain.volumes import save_volume
from cnnpractice.io import write_json
from cnnpractice.tables import write_csv

log = logging.getLogger("cnnpractice.brain")

GROUPS = ("control", "impaired")


def atrophy_weights(atlas: np.ndarray, labels: Sequence[int], sigma_vox: float) -> dict[int, np.ndarray]:
    """Smoothed indicator ``w_R`` (X,Y,Z float32, 0..1) of each atlas label, cropped to where
    it matters: a dict label -> weights on the full grid."""
    from scipy.ndimage import gaussian_filter

    out = {}
    for label in labels:
        region = (atlas == label).astype(np.float32)
        w = gaussian_filter(region, sigma=sigma_vox) if sigma_vox > 0 else region
        peak = float(w.max())
        out[int(label)] = (w / peak if peak > 0 else w).astype(np.float32)
    return out


def bias_field(shape: Sequence[int], rng: np.random.Generator, strength: float, coarse: int = 4) -> np.ndarray:
    """A smooth positive multiplicative field ``exp(strength * g)`` of ``shape``, ``g`` a
    cubic upsampling of ``coarse``^3 uniform noise rescaled to [-1, 1]."""
    from scipy.ndimage import zoom

    if strength <= 0:
        return np.ones(shape, dtype=np.float32)
    g = zoom(
        rng.uniform(-1, 1, size=(coarse,) * 3), [s / coarse for s in shape], order=3, grid_mode=True, mode="nearest"
    )
    g = g[tuple(slice(0, s) for s in shape)]
    g = 2 * (g - g.min()) / max(float(np.ptp(g)), 1e-12) - 1
    return np.exp(strength * g).astype(np.float32)


def make_synthetic_cohort(
    *,
    template_dir: str | Path,
    out_dir: str | Path,
    n_per_class: int,
    planted_regions: Sequence[str],
    severity: Sequence[float],
    distractors: Mapping[str, Any],
    smoothing_mm: float,
    misalignment: Mapping[str, float],
    bias: float,
    gain: float,
    noise: float,
    seed: int,
) -> dict[str, Any]:
    """Generate the cohort described in the module docstring into ``out_dir``.

    Parameters
    ----------
    n_per_class : subjects per class (control, impaired).
    planted_regions : atlas region names that atrophy in the impaired class.
    severity : [low, high] of the impaired class's uniform per-subject severity.
    distractors : ``regions_per_subject`` (int) and ``severity`` ([low, high]) of the
        class-independent atrophy; drawn among the atlas regions that are not planted.
    smoothing_mm : Gaussian sigma of the atrophy weights (mm).
    misalignment : ``rotation_deg``, ``translation_mm``, ``scale`` (see ``random_affine``).
    bias, gain, noise : acquisition effects (see module docstring).
    seed : subject ``i`` draws from ``numpy.random.default_rng([seed, i])``.

    Returns
    -------
    The ground-truth dict written to ``ground_truth.json``.
    """
    from cnnpractice.brain.registration import random_affine, resample

    if n_per_class < 2:
        raise ValueError(f"brain.synthetic.n_per_class must be at least 2, got {n_per_class}")
    lo, hi = (float(v) for v in severity)
    if not 0 <= lo <= hi < 1:
        raise ValueError(f"brain.synthetic.severity must be [low, high] with 0 <= low <= high < 1, got {severity}")
    out_dir = Path(out_dir)
    tpl = load_template(template_dir)
    anatomy0, atlas, affine, mask = tpl["template"], tpl["atlas"], tpl["affine"], tpl["mask"]
    planted = region_labels(tpl["names"], list(planted_regions), key="brain.synthetic.planted_regions")
    pool = sorted(set(tpl["names"]) - set(planted.values()))
    n_distract = int(distractors.get("regions_per_subject", 0))
    d_lo, d_hi = (float(v) for v in distractors.get("severity", [0.0, 0.0]))
    if n_distract > len(pool):
        raise ValueError(
            f"brain.synthetic.distractors.regions_per_subject={n_distract} exceeds the "
            f"{len(pool)} atlas regions that are not planted"
        )
    voxel_mm = float(np.abs(np.linalg.det(affine[:3, :3])) ** (1 / 3))
    sigma = smoothing_mm / voxel_mm
    weights = atrophy_weights(atlas, list(planted.values()), sigma)
    centre = (affine @ np.append(np.argwhere(mask).mean(axis=0), 1.0))[:3]
    brain_mean = float(anatomy0[mask].mean())

    rows, subjects = [], []
    for i in range(2 * n_per_class):
        label = i % 2  # interleaved, so a prefix of the cohort stays balanced
        sid = f"sub-{i:03d}"
        rng = np.random.default_rng([seed, i])
        anatomy = anatomy0.copy()
        sev = float(rng.uniform(lo, hi)) if label == 1 else 0.0
        for lab in planted.values() if label == 1 else ():
            anatomy *= 1.0 - sev * weights[lab]
        chosen = rng.choice(pool, size=n_distract, replace=False) if n_distract else []
        for lab in chosen:
            w = atrophy_weights(atlas, [int(lab)], sigma)[int(lab)]
            anatomy *= 1.0 - float(rng.uniform(d_lo, d_hi)) * w
        A = random_affine(
            rng,
            rotation_deg=float(misalignment["rotation_deg"]),
            translation_mm=float(misalignment["translation_mm"]),
            scale=float(misalignment["scale"]),
            centre_mm=centre,
        )
        moved = resample(anatomy, affine, A, anatomy.shape, affine, order=1)
        image = moved * bias_field(moved.shape, rng, bias) * (1.0 + rng.uniform(-gain, gain))
        image = image + rng.normal(0.0, noise * brain_mean, size=image.shape).astype(np.float32)
        image = np.maximum(image, 0.0).astype(np.float32)
        path = out_dir / "volumes" / f"{sid}.nii.gz"
        save_volume(path, image, affine)
        rows.append(
            {"subject": sid, "label": label, "group": GROUPS[label], "volume": str(path), "severity": round(sev, 4)}
        )
        subjects.append(
            {
                "subject": sid,
                "label": label,
                "severity": sev,
                "distractors": [tpl["names"][int(k)] for k in chosen],
                "A": A.round(6).tolist(),
            }
        )
    truth = {
        "planted_regions": planted,
        "severity": [lo, hi],
        "smoothing_mm": smoothing_mm,
        "misalignment": dict(misalignment),
        "subjects": subjects,
    }
    write_csv(out_dir / "subjects.csv", rows, ["subject", "label", "group", "volume", "severity"])
    write_json(out_dir / "ground_truth.json", truth)
    log.info(
        f"synthetic cohort: {len(rows)} subjects, planted {sorted(planted)} "
        f"(severity {lo}-{hi}), {n_distract} distractor regions per subject"
    )
    return truth
