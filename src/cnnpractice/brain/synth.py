"""The offline default's synthetic cohort: brains that differ in shape, age and disease.

No MRI can be downloaded on the machines the default workflow must run on, so the workflow
makes its own cohort from the template (:mod:`.template`). The cohort must let the method
fail: no two brains share a shape (affine alignment is not exact), atrophy is tissue loss
(not a painted intensity drop), and age is a possible confound. Subject ``i`` (label
``i % 2``, drawn from ``numpy.random.default_rng([seed, i])``), with the warps of
:mod:`.warps`:

1. **age** from its class's normal distribution (``age.control`` / ``age.impaired``: mean,
   sd; clipped to ``age.range``). Matched by default; a mismatch makes age a confound.
2. **disease and ageing in template space** (one local velocity field, full resolution, in a
   box around the structures): every planted region keeps ``1 - effect * s`` of its volume
   (``s`` ~ U(``volume_loss``) for the impaired class, 0 for controls); the freed space gets
   CSF's intensity (the template's median in the ventricles). The lateral ventricles
   (:func:`ventricle_mask`) grow by the factor ``(1 + effect * ventricles_disease * label) *
   (1 + age.ventricles_per_year) ** (age - age.reference)``. The rates ``k`` of the forward
   maps ``exp(k g)`` come from per-structure calibration tables (:func:`.warps.calibrate`);
   the volumes reached are measured and written (``realised``).
3. **global atrophy with age**: the brain keeps ``(1 - age.brain_per_year) ** (age -
   age.reference)`` of its volume, by a contraction of the brain mask (the cortex moves
   inwards, background fills in), on the half-resolution grid.
4. **anatomy**: a random smooth diffeomorphic warp ``exp(v)``, ``v`` cubic-interpolated from
   normal control values every ``anatomy.spacing_mm`` and scaled to an RMS of
   ``anatomy.warp_mm`` over the brain (half-resolution grid).
5. **position**: a random affine ``A`` (:func:`.registration.random_affine`), and
   **acquisition**: bias field, gain and noise as in the first cohort.

The subject's image is ``S(p) = T_a(psi_age(psi_anat(A p)))`` with ``T_a`` the template
after step 2. The alignment's true answer (the nuisance only: position and anatomy) is
``T_true(x) = inv(A) @ exp(-v)(x)``; :func:`true_transform` rebuilds it from ``cohort.json``.

Written: ``volumes/<subject>.nii.gz`` (float32 on the template grid), ``subjects.csv``
(``subject,label,group,volume,severity,age``) and the ground truth returned to
:func:`cnnpractice.brain.cohort.make_cohort` (which writes ``cohort.json``): settings,
structures, and per subject the age, target and realised volume ratios, Jacobian ranges, the
anatomy warp's control values and ``A``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from cnnpractice.brain import warps
from cnnpractice.brain.template import load_template, region_labels
from cnnpractice.brain.volumes import save_volume
from cnnpractice.tables import write_csv

log = logging.getLogger("cnnpractice.brain")
GROUPS = ("control", "impaired")
LOW = 2  # the half-resolution grid of the smooth (anatomy, global) fields
K_MAX = 3.0  # calibrated range of a structure's rate (voxels of its unit field)


def ventricle_mask(template: np.ndarray, mask: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """The lateral ventricles of a template: the two largest dark components (intensity
    below 0.43 of the brain's median, the CSF of MNI152) inside the brain eroded by 10 mm,
    above z = 0 mm and within 35 mm of the midline. Shapes: (X, Y, Z) -> bool (X, Y, Z)."""
    voxel = float(abs(affine[0, 0]))
    inner = ndimage.binary_erosion(mask, iterations=max(1, int(round(10 / voxel))))
    dark = inner & (template < 0.43 * float(np.median(template[mask])))
    world = np.moveaxis(np.indices(template.shape), 0, -1) @ affine[:3, :3].T + affine[:3, 3]
    dark &= (world[..., 2] > 0) & (np.abs(world[..., 0]) < 35)
    labels, n = ndimage.label(dark)
    if n < 2:
        raise ValueError("no lateral ventricles found in the template (two dark components near the midline)")
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.argsort(-sizes)[:2] + 1
    return np.isin(labels, keep)


class TemplateChanges:
    """Disease and ageing in template space: the structures, their unit fields and calibration.

    Built once per cohort; :meth:`apply` gives one subject's changed template.
    """

    def __init__(self, tpl: Mapping[str, Any], planted: Mapping[str, int], smoothing_mm: float):
        template, mask, affine = tpl["template"], tpl["mask"], tpl["affine"]
        self.voxel = float(abs(affine[0, 0]))
        sigma = max(smoothing_mm / self.voxel, 0.5)
        margin = int(np.ceil(4 * sigma)) + 4
        structures = {name: tpl["atlas"] == label for name, label in planted.items()}
        ventricles = ventricle_mask(template, mask, affine)
        structures["ventricles"] = ventricles
        self.csf = float(np.median(template[ventricles]))
        self.box = warps.bounding_box(np.logical_or.reduce(list(structures.values())), margin)
        self.structures = {name: region[self.box].astype(np.float32) for name, region in structures.items()}
        self.fields, self.tables = {}, {}
        for name, ind in self.structures.items():
            self.fields[name] = warps.region_field(ind, sigma)
            own = warps.bounding_box(ind > 0, margin)  # calibrate in the structure's own box
            self.tables[name] = warps.calibrate(ind[own], self.fields[name][(slice(None), *own)], K_MAX, points=13)
        self.planted = np.logical_or.reduce([self.structures[n] > 0 for n in planted]).astype(np.float32)
        # global atrophy: the brain mask's contraction on the coarse grid
        self.brain_low = warps.downsample_mask(mask, LOW).astype(np.float32)
        self.brain_field = warps.region_field(self.brain_low, 8.0 / (self.voxel * LOW))
        self.brain_table = warps.calibrate(self.brain_low, self.brain_field, 2.0, points=9)

    def apply(
        self, template: np.ndarray, ratios: Mapping[str, float], corrections: int = 2
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The template with every structure at ``ratios`` of its volume (full resolution,
        in the structures' box); the freed space of planted regions is CSF.

        Neighbouring structures push on each other (a shrinking hippocampus's shell grows
        into the amygdala), so the rates from the single-structure tables are corrected up
        to ``corrections`` times by the measured shortfall.

        Returns ``(changed template (X, Y, Z) float32, truth)``, truth = rates, realised ratios
        (trilinear volume of the warped structure) and the pull-back's Jacobian range."""
        rates = {name: warps.rate_for(float(ratios[name]), self.tables[name]) for name in self.fields}
        for attempt in range(corrections + 1):
            u = warps.exp_velocity(-sum(rates[name] * self.fields[name] for name in self.fields))
            realised = {name: warps.volume_ratio(self.structures[name], u) for name in self.fields}
            miss = {name: np.log(ratios[name]) - np.log(realised[name]) for name in self.fields}
            if attempt == corrections or max(abs(m) for m in miss.values()) < 0.005:
                break
            rates = {
                name: rates[name] + miss[name] / warps.rate_slope(rates[name], self.tables[name]) for name in rates
            }
        offset = np.array([s.start for s in self.box], np.float32)[:, None, None, None]
        coords = warps.identity(u.shape[1:]) + u + offset
        moved = ndimage.map_coordinates(template, coords, order=1, mode="constant", cval=0.0, output=np.float32)
        freed = np.clip(self.planted - warps.warp_image(self.planted, u), 0.0, 1.0)
        out = template.copy()
        out[self.box] = (1.0 - freed) * moved + freed * self.csf
        jac = warps.jacobian_determinant(u)
        truth = {
            "rates": {k: round(v, 5) for k, v in rates.items()},
            "realised": {k: round(v, 4) for k, v in realised.items()},
            "pullback_jacobian": [round(float(jac.min()), 4), round(float(jac.max()), 4)],
        }
        return out, truth

    def brain_pullback(self, ratio: float) -> tuple[np.ndarray, float]:
        """(pull-back displacement on the coarse grid, realised ratio) of the global atrophy."""
        k = warps.rate_for(float(ratio), self.brain_table)
        u = warps.exp_velocity(-k * self.brain_field)
        return u, warps.volume_ratio(self.brain_low, u)


def draw_age(rng: np.random.Generator, label: int, age: Mapping[str, Any]) -> float:
    """A subject's age from its class's normal (mean, sd), clipped to ``age["range"]``."""
    mean, sd = (float(v) for v in age["impaired" if label else "control"])
    lo, hi = (float(v) for v in age["range"])
    return float(np.clip(rng.normal(mean, sd), lo, hi))


def _check(n_per_class, volume_loss, effect, age) -> None:
    if n_per_class < 2:
        raise ValueError(f"brain.synthetic.n_per_class must be at least 2, got {n_per_class}")
    lo, hi = (float(v) for v in volume_loss)
    if not 0 <= lo <= hi < 1:
        raise ValueError(
            f"brain.synthetic.volume_loss must be [low, high] with 0 <= low <= high < 1, got {volume_loss}"
        )
    if effect < 0 or effect * hi >= 1:
        raise ValueError(f"brain.synthetic.effect={effect}: effect * volume_loss must stay below 1 (and effect >= 0)")
    a_lo, a_hi = (float(v) for v in age["range"])
    if not a_lo < a_hi:
        raise ValueError(f"brain.synthetic.age.range must be [low, high] with low < high, got {age['range']}")


def make_synthetic_cohort(
    *,
    template_dir: str | Path,
    out_dir: str | Path,
    n_per_class: int,
    planted_regions: Sequence[str],
    effect: float,
    volume_loss: Sequence[float],
    ventricles_disease: float,
    smoothing_mm: float,
    age: Mapping[str, Any],
    anatomy: Mapping[str, float],
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
    planted_regions : atlas region names that lose volume in the impaired class.
    effect : multiplies every disease effect (0: nothing planted, the null cohort).
    volume_loss : [low, high] of the impaired class's uniform per-subject fraction of each
        planted region's volume lost.
    ventricles_disease : extra fraction of ventricular volume in the impaired class.
    smoothing_mm : Gaussian sigma (mm) of the structures' unit fields.
    age : ``control`` and ``impaired`` ([mean, sd] years), ``range``, ``reference`` (the
        template's age), ``ventricles_per_year`` and ``brain_per_year`` (fractions).
    anatomy : ``warp_mm`` (RMS velocity over the brain) and ``spacing_mm`` (control grid).
    misalignment : ``rotation_deg``, ``translation_mm``, ``scale`` (see ``random_affine``).
    bias, gain, noise : acquisition effects (as in the first cohort).
    seed : subject ``i`` draws from ``numpy.random.default_rng([seed, i])``.

    Returns
    -------
    The ground truth (see the module docstring).
    """
    from cnnpractice.brain.registration import random_affine

    _check(n_per_class, volume_loss, effect, age)
    out_dir = Path(out_dir)
    tpl = load_template(template_dir)
    template, affine, mask = tpl["template"], tpl["affine"], tpl["mask"]
    planted = region_labels(tpl["names"], list(planted_regions), key="brain.synthetic.planted_regions")
    changes = TemplateChanges(tpl, planted, smoothing_mm)
    voxel = changes.voxel
    low_mask = warps.downsample_mask(mask, LOW)
    centre = (affine @ np.append(np.argwhere(mask).mean(axis=0), 1.0))[:3]
    brain_mean = float(template[mask].mean())
    ref = float(age["reference"])
    grid = warps.identity(template.shape).reshape(3, -1)

    rows, subjects = [], []
    for i in range(2 * n_per_class):
        label = i % 2  # interleaved, so a prefix of the cohort stays balanced
        sid = f"sub-{i:03d}"
        rng = np.random.default_rng([seed, i])
        years = draw_age(rng, label, age)
        sev = float(rng.uniform(*volume_loss)) if label == 1 else 0.0
        ratios = {name: 1.0 - effect * sev for name in planted}
        ratios["ventricles"] = (1.0 + effect * ventricles_disease * label) * (
            1.0 + float(age["ventricles_per_year"])
        ) ** (years - ref)
        changed, local = changes.apply(template, ratios)
        u_age, brain_ratio = changes.brain_pullback((1.0 - float(age["brain_per_year"])) ** (years - ref))
        v_anat, control = warps.random_velocity(
            low_mask.shape,
            rng,
            spacing=float(anatomy["spacing_mm"]) / (voxel * LOW),
            amplitude=float(anatomy["warp_mm"]) / (voxel * LOW),
            mask=low_mask,
        )
        u_anat = warps.exp_velocity(v_anat)
        u_body = warps.compose(u_age, u_anat)  # psi_age(psi_anat(.)), coarse voxels
        A = random_affine(
            rng,
            rotation_deg=float(misalignment["rotation_deg"]),
            translation_mm=float(misalignment["translation_mm"]),
            scale=float(misalignment["scale"]),
            centre_mm=centre,
        )
        # S(p) = T_a(psi_age(psi_anat(A p))): template voxels of A p, then the coarse fields there
        to_tpl = np.linalg.inv(affine) @ A @ affine
        q = (to_tpl[:3, :3] @ grid + to_tpl[:3, 3:]).astype(np.float32)
        q += LOW * np.stack([warps.sample(c, q / LOW) for c in u_body])
        image = ndimage.map_coordinates(changed, q, order=1, mode="constant", cval=0.0, output=np.float32)
        image = image.reshape(template.shape) * bias_field(template.shape, rng, bias) * (1.0 + rng.uniform(-gain, gain))
        image = image + rng.normal(0.0, noise * brain_mean, size=image.shape).astype(np.float32)
        image = np.maximum(image, 0.0).astype(np.float32)
        path = out_dir / "volumes" / f"{sid}.nii.gz"
        save_volume(path, image, affine)
        jac = warps.jacobian_determinant(u_anat)[low_mask]
        rows.append(
            {
                "subject": sid,
                "label": label,
                "group": GROUPS[label],
                "volume": str(path),
                "severity": round(sev, 4),
                "age": round(years, 2),
            }
        )
        subjects.append(
            {
                "subject": sid,
                "label": label,
                "age": round(years, 3),
                "severity": round(sev, 5),
                "target": {k: round(v, 5) for k, v in ratios.items()} | {"brain": round(brain_ratio, 5)},
                **local,
                "anatomy": {
                    "rms_mm": round(float(np.sqrt((u_anat[:, low_mask] ** 2).sum(0).mean())) * voxel * LOW, 3),
                    "jacobian": np.percentile(jac, [0, 1, 50, 99, 100]).round(4).tolist(),
                    "control": control.round(6).tolist(),
                },
                "A": A.round(6).tolist(),
            }
        )
        log.info(
            "synthetic %s: label %d, age %.1f, severity %.3f, realised %s", sid, label, years, sev, local["realised"]
        )
    write_csv(out_dir / "subjects.csv", rows, ["subject", "label", "group", "volume", "severity", "age"])
    log.info("synthetic cohort: %d subjects, planted %s, effect %s", len(rows), sorted(planted), effect)
    return {
        "planted_regions": planted,
        "effect": effect,
        "volume_loss": list(volume_loss),
        "ventricles_disease": ventricles_disease,
        "smoothing_mm": smoothing_mm,
        "age": dict(age),
        "anatomy": dict(anatomy) | {"grid_factor": LOW, "grid_shape": list(low_mask.shape)},
        "misalignment": dict(misalignment),
        "csf_intensity": changes.csf,
        "ventricle_voxels": int(changes.structures["ventricles"].sum()),
        "subjects": subjects,
    }


def true_transform(truth: Mapping[str, Any], subject: Mapping[str, Any], shape, affine) -> np.ndarray:
    """Where the true nuisance transform sends every template voxel: (X, Y, Z, 3) world mm
    in the subject's image, ``T_true(x) = inv(A) @ exp(-v)(x)`` (position and anatomy; the
    disease and age changes are the signal and stay)."""
    factor = int(truth["anatomy"]["grid_factor"])
    v = warps.velocity_from_control(np.asarray(subject["anatomy"]["control"]), truth["anatomy"]["grid_shape"])
    u = warps.upsample(warps.exp_velocity(-v), shape, factor)  # template voxels
    vox = warps.identity(shape) + u
    world = np.moveaxis(vox, 0, -1) @ affine[:3, :3].T + affine[:3, 3]
    inv_a = np.linalg.inv(np.asarray(subject["A"], dtype=np.float64))
    return (world @ inv_a[:3, :3].T + inv_a[:3, 3]).astype(np.float32)


def bias_field(shape: Sequence[int], rng: np.random.Generator, strength: float, coarse: int = 4) -> np.ndarray:
    """A smooth positive multiplicative field ``exp(strength * g)`` of ``shape``, ``g`` a
    cubic spline through ``coarse``^3 uniform noise values, rescaled to [-1, 1]."""
    if strength <= 0:
        return np.ones(shape, dtype=np.float32)
    g = warps.spline_upsample(rng.uniform(-1, 1, size=(coarse,) * 3), shape)
    g = 2 * (g - g.min()) / max(float(np.ptp(g)), 1e-12) - 1
    return np.exp(strength * g).astype(np.float32)
