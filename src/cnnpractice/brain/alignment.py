"""Alignment of every subject to the template, in shards, and the QC table with the exclusion
threshold (a failed or poor alignment is excluded and listed, never dropped).

:func:`align_subject` registers one subject affinely (:func:`.registration.register_affine`),
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
:func:`align_shard` runs it over one shard of the cohort, :func:`collect_qc` merges the
shards, applies the threshold and counts exclusions per class.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.brain.cohort import read_cohort
from cnnpractice.tables import write_csv

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


def align_shard(
    *,
    cohort_csv: str | Path,
    template_dir: str | Path,
    out_dir: str | Path,
    shard: int,
    n_shards: int,
    method: str,
    settings: Mapping[str, Any],
    seed: int,
    threads: int = 1,
    nonlinear: Mapping[str, Any] | None = None,
    cohort_json: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Register subjects ``shard, shard + n_shards, ...`` of the cohort to the template
    (affine, then the optional ``nonlinear`` step: :func:`align_subject`).

    Writes ``out_dir/<subject>.nii.gz`` (the subject on the template grid) and
    ``out_dir/qc.csv`` (similarity to the template before and after each step, over the brain
    mask; with a synthetic cohort's ``cohort_json``, the true-transform ceiling and the
    residual misalignment). A subject whose volume cannot be read or registered gets a row
    with NaN similarities and the error, which :func:`collect_qc` turns into an exclusion.
    """
    import json

    from cnnpractice.brain.template import load_template
    from cnnpractice.brain.volumes import load_volume, save_volume

    out_dir = Path(out_dir)
    tpl = load_template(template_dir)
    truth = json.loads(Path(cohort_json).read_text()) if cohort_json else {}
    by_subject = {s["subject"]: s for s in truth.get("subjects", [])} if truth.get("source") == "synthetic" else {}
    step = (nonlinear or {}).get("method", "none")
    rows = read_cohort(cohort_csv)[shard::n_shards]
    qc = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for row in rows:
        entry = {
            "subject": row["subject"],
            "label": int(row["label"]),
            "group": row["group"],
            "volume": row["volume"],
            "aligned": "",
            "method": method + ("" if step == "none" else f"+{step}"),
            "corr_before": float("nan"),
            "corr_after": float("nan"),
            "seconds": 0.0,
            "error": "",
        }
        t0 = time.perf_counter()
        try:
            moving, moving_affine = load_volume(row["volume"])
            subject_truth = (truth, by_subject[row["subject"]]) if row["subject"] in by_subject else None
            aligned, numbers = align_subject(
                moving,
                moving_affine,
                tpl,
                method=method,
                settings=settings,
                nonlinear=nonlinear,
                truth=subject_truth,
                seed=seed,
                threads=threads,
            )
        except (ValueError, RuntimeError) as exc:  # VolumeError is a ValueError; ITK raises RuntimeError
            # one unreadable or unregistrable scan is reported and excluded by collect_qc,
            # not a reason to lose the shard's other subjects
            entry["error"] = f"{type(exc).__name__}: {exc}".replace("\n", " ")
            log.info(f"{row['subject']}: alignment failed: {entry['error']}")
        else:
            aligned_path = out_dir / f"{row['subject']}.nii.gz"
            save_volume(aligned_path, aligned, tpl["affine"])
            entry.update(aligned=str(aligned_path), **numbers)
            log.info(f"aligned {row['subject']}: {numbers}")
        entry["seconds"] = round(time.perf_counter() - t0, 2)
        qc.append(entry)
    write_csv(out_dir / "qc.csv", qc, QC_COLUMNS + ["error"])
    return qc


def collect_qc(
    *, shard_qcs: Sequence[str | Path], out_csv: str | Path, out_md: str | Path, min_correlation: float
) -> list[dict[str, Any]]:
    """Merge the shards' QC rows; a subject whose correlation after alignment is below
    ``min_correlation``, or whose alignment failed (unreadable volume, registration error),
    is excluded (``included`` false, with the reason), and listed in the Markdown report,
    never dropped silently."""
    from cnnpractice.brain.tables import write_qc_markdown

    rows = []
    for path in shard_qcs:
        with open(path, newline="") as fh:
            rows.extend(csv.DictReader(fh))
    rows.sort(key=lambda r: r["subject"])
    for row in rows:
        ok = float(row["corr_after"]) >= min_correlation  # NaN (a failed alignment) is never ok
        row["included"] = ok
        row["reason"] = (
            "" if ok else row.get("error") or f"correlation after alignment {row['corr_after']} < {min_correlation}"
        )
    if not any(r["included"] for r in rows):
        raise ValueError(f"brain.alignment.min_correlation={min_correlation}: every subject failed QC")
    write_csv(out_csv, rows, QC_COLUMNS + ["included", "reason"])
    write_qc_markdown(out_md, rows, min_correlation)
    excluded = [r["subject"] for r in rows if not r["included"]]
    log.info(f"QC: {len(rows) - len(excluded)} included, {len(excluded)} excluded {excluded}")
    return rows
