"""One subject's alignment to the template: affine, optional nonlinear step, and its QC.

:func:`align_subject` registers the subject affinely (:func:`.registration.register_affine`),
optionally refines it nonlinearly (:func:`.nonlinear.refine`), resamples the original image
once, and measures (over the template's brain mask):

* ``corr_before`` / ``corr_affine`` / ``corr_nonlinear``: Pearson correlation with the template
  of the image regridded without a transform, after the affine step, after the nonlinear step;
* on a synthetic cohort, with the known warps (:func:`.synth.true_transform`): ``corr_true``,
  the correlation after alignment by the *true* nuisance transform (position and anatomy):
  the ceiling, since the disease, age, bias field and noise stay; and ``error_affine_mm`` /
  ``error_nonlinear_mm``, the mean distance over the brain between where the estimated and
  the true transform take every template voxel from (the residual misalignment).

``corr_after`` is the last step's correlation, the one the QC threshold reads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

log = logging.getLogger("cnnpractice.brain")
QC_COLUMNS = [
    "subject",
    "label",
    "group",
    "volume",
    "aligned",
    "method",
    "corr_before",
    "corr_affine",
    "corr_nonlinear",
    "corr_true",
    "error_affine_mm",
    "error_nonlinear_mm",
    "corr_after",
    "seconds",
    "seconds_nonlinear",
]


def align_subject(
    moving: np.ndarray,
    moving_affine: np.ndarray,
    tpl: Mapping[str, Any],
    *,
    method: str,
    settings: Mapping[str, Any],
    nonlinear: Mapping[str, Any] | None,
    truth: tuple[Mapping[str, Any], Mapping[str, Any]] | None,
    seed: int,
    threads: int = 1,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Align one subject's image (see the module docstring).

    Parameters
    ----------
    moving, moving_affine : the subject's image (X', Y', Z') and its (4, 4) affine.
    tpl : :func:`.template.load_template`'s dict.
    method, settings : the affine back end and its options.
    nonlinear : ``{"method": "none" | "syn" | "bspline", "settings": {...}}`` or None.
    truth : ``(cohort ground truth, this subject's entry)`` of a synthetic cohort, or None.

    Returns
    -------
    ``(aligned image on the template grid (X, Y, Z) float32, QC numbers)``.
    """
    from cnnpractice.brain.nonlinear import alignment_points, point_error_mm, refine, resample_points
    from cnnpractice.brain.registration import register_affine, resample, similarity

    template, affine, mask = tpl["template"], tpl["affine"], tpl["mask"]
    before = resample(moving, moving_affine, np.eye(4), template.shape, affine)
    result = register_affine(
        moving, moving_affine, template, affine, method=method, fixed_mask=mask, seed=seed, threads=threads, **settings
    )
    qc: dict[str, Any] = {
        "corr_before": round(similarity(before, template, mask), 4),
        "corr_affine": round(similarity(result.aligned, template, mask), 4),
        "corr_nonlinear": "",
        "corr_true": "",
        "error_affine_mm": "",
        "error_nonlinear_mm": "",
        "seconds_nonlinear": "",
    }
    aligned, points = result.aligned, None
    step = (nonlinear or {}).get("method", "none")
    if step != "none":
        u, seconds = refine(
            result.aligned,
            template,
            affine,
            method=step,
            fixed_mask=mask,
            settings=(nonlinear or {}).get("settings") or {},
            seed=seed,
            threads=threads,
        )
        points = alignment_points(result.matrix, affine, template.shape, u)
        aligned = resample_points(moving, moving_affine, points)  # one resampling of the original
        qc["corr_nonlinear"] = round(similarity(aligned, template, mask), 4)
        qc["seconds_nonlinear"] = round(seconds, 2)
    if truth is not None:
        from cnnpractice.brain.synth import true_transform

        true_points = true_transform(truth[0], truth[1], template.shape, affine)
        qc["corr_true"] = round(similarity(resample_points(moving, moving_affine, true_points), template, mask), 4)
        affine_points = alignment_points(result.matrix, affine, template.shape)
        qc["error_affine_mm"] = round(point_error_mm(affine_points, true_points, mask), 3)
        if points is not None:
            qc["error_nonlinear_mm"] = round(point_error_mm(points, true_points, mask), 3)
    qc["corr_after"] = qc["corr_nonlinear"] if points is not None else qc["corr_affine"]
    return aligned, qc


def per_class_counts(rows) -> dict[str, dict[str, int]]:
    """``{group: {"subjects", "included", "excluded"}}`` of QC rows (``group``, ``included``):
    an exclusion rule that drops atrophic brains biases the study, so the table shows it."""
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        entry = out.setdefault(str(row["group"]), {"subjects": 0, "included": 0, "excluded": 0})
        entry["subjects"] += 1
        entry["included" if row["included"] else "excluded"] += 1
    return out
