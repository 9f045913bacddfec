"""The brain study's stages as functions of paths and values (the rules' scripts call these).

* :func:`read_cohort` -- a cohort's ``subjects.csv`` (synthetic or OASIS), checked.
* :func:`align_shard` / :func:`collect_qc` -- affine (and optionally nonlinear) alignment of
  every subject to the template (:mod:`.alignment`), and the QC table with the exclusion
  threshold, exclusions counted per class.
* :func:`svm_baseline` -- a linear SVM on the aligned voxels, on the same subject folds.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.io import write_json
from cnnpractice.tables import write_csv


def read_cohort(path: str | Path) -> list[dict[str, str]]:
    """Rows of a cohort's ``subjects.csv``: columns ``subject,label,group,volume`` (more
    allowed), labels 0/1, unique subjects, both classes present."""
    path = Path(path)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    need = {"subject", "label", "group", "volume"}
    if not rows or not need <= set(rows[0]):
        raise ValueError(f"{path}: expected a CSV with columns {sorted(need)} and one row per subject")
    bad = [r["subject"] for r in rows if r["label"] not in ("0", "1")]
    if bad:
        raise ValueError(f"{path}: label must be 0 or 1; subjects {bad[:5]} have other values")
    ids = [r["subject"] for r in rows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate subject ids")
    if len({r["label"] for r in rows}) < 2:
        raise ValueError(f"{path}: both classes (label 0 and 1) are needed")
    return rows


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
    (affine, then the optional ``nonlinear`` step: :func:`.alignment.align_subject`).

    Writes ``out_dir/<subject>.nii.gz`` (the subject on the template grid) and
    ``out_dir/qc.csv`` (similarity to the template before and after each step, over the brain
    mask; with a synthetic cohort's ``cohort_json``, the true-transform ceiling and the
    residual misalignment). A subject whose volume cannot be read or registered gets a row
    with NaN similarities and the error, which :func:`collect_qc` turns into an exclusion.
    """
    import json

    from cnnpractice.brain.alignment import QC_COLUMNS, align_subject
    from cnnpractice.brain.template import load_template
    from cnnpractice.brain.volumes import load_volume, save_volume

    out_dir = Path(out_dir)
    tpl = load_template(template_dir)
    truth = json.loads(Path(cohort_json).read_text()) if cohort_json else {}
    by_subject = {s["subject"]: s for s in truth.get("subjects", [])} if truth.get("source") == "synthetic" else {}
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
            "method": method + ("" if (nonlinear or {}).get("method", "none") == "none" else f"+{nonlinear['method']}"),
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
            print(f"[brain] {row['subject']}: alignment failed: {entry['error']}")
        else:
            aligned_path = out_dir / f"{row['subject']}.nii.gz"
            save_volume(aligned_path, aligned, tpl["affine"])
            entry.update(aligned=str(aligned_path), **numbers)
            print(f"[brain] aligned {row['subject']}: {numbers}")
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
    from cnnpractice.brain.alignment import QC_COLUMNS
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
    print(f"[brain] QC: {len(rows) - len(excluded)} included, {len(excluded)} excluded {excluded}")
    return rows


def svm_baseline(
    *,
    qc_csv: str | Path,
    template_dir: str | Path,
    out_json: str | Path,
    folds: int,
    seed: int,
    downsample: int,
    c_grid: Sequence[float],
) -> dict[str, Any]:
    """Linear SVM on the aligned voxels (the literature's strong baseline), on the same
    subject folds as the CNN. Features: brain-mask voxels of every ``downsample``-th voxel
    on each axis, each subject scaled by its 99.5th percentile (as the slices are), then
    standardised on the training subjects; C chosen by an inner stratified 3-fold CV on the
    training subjects. Writes per-fold and mean metrics."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from cnnpractice.brain.cv_train import subject_metrics
    from cnnpractice.brain.folds import subject_folds
    from cnnpractice.brain.slices import read_included, robust_max
    from cnnpractice.brain.template import load_template
    from cnnpractice.brain.volumes import load_volume

    rows = read_included(qc_csv)
    full_mask = load_template(template_dir)["mask"]
    mask = full_mask[::downsample, ::downsample, ::downsample]
    X = np.empty((len(rows), int(mask.sum())), dtype=np.float32)
    for i, row in enumerate(rows):
        volume, _ = load_volume(row["aligned"])
        scale = robust_max(volume, full_mask)
        X[i] = volume[::downsample, ::downsample, ::downsample][mask] / max(scale, 1e-12)
    y = np.array([int(r["label"]) for r in rows])
    fold_of = subject_folds(y, folds, seed)
    per_fold = []
    for fold in range(folds):
        train, test = fold_of != fold, fold_of == fold
        smallest = int(np.bincount(y[train], minlength=2).min())
        if smallest < 2:
            raise ValueError(
                f"brain.svm: fold {fold}'s training subjects have {smallest} of one class; choosing C "
                f"needs at least 2 (more subjects per class, or fewer brain.cv.folds)"
            )
        inner = StratifiedKFold(n_splits=min(3, smallest), shuffle=True, random_state=seed)
        search = GridSearchCV(
            make_pipeline(StandardScaler(), LinearSVC(dual="auto", max_iter=20000)),
            {"linearsvc__C": list(c_grid)},
            cv=inner,
            scoring="roc_auc",
        )
        search.fit(X[train], y[train])
        score = search.decision_function(X[test])
        metrics = subject_metrics(y[test], score, threshold=0.0)
        per_fold.append(
            {"fold": fold, "C": float(search.best_params_["linearsvc__C"]), "subjects": int(test.sum()), **metrics}
        )
        print(f"[brain] SVM fold {fold}: {per_fold[-1]}")
    out = {"features": int(X.shape[1]), "subjects": len(rows), "downsample": downsample, "folds": per_fold}
    write_json(out_json, out)
    return out


def make_cohort(
    *, settings: Mapping[str, Any], template_dir: str | Path, out_dir: str | Path, raw_dir: str | Path, seed: int
) -> dict[str, Any]:
    """The cohort of ``settings["source"]``: the synthetic one (:mod:`.synth`), or OASIS-1
    subjects selected from the downloaded discs (:mod:`.oasis`). Writes ``subjects.csv``,
    ``volumes/`` (synthetic volumes; empty for OASIS, whose volumes stay in ``raw_dir``) and
    ``cohort.json`` (the ground truth, or the selection's counts)."""
    out_dir = Path(out_dir)
    (out_dir / "volumes").mkdir(parents=True, exist_ok=True)
    if settings["source"] == "synthetic":
        from cnnpractice.brain.synth import make_synthetic_cohort

        summary = {
            "source": "synthetic",
            **make_synthetic_cohort(template_dir=template_dir, out_dir=out_dir, seed=seed, **settings["synthetic"]),
        }
    elif settings["source"] == "oasis":
        from cnnpractice.brain.oasis import build_oasis_cohort

        # brain.oasis.discs says what to download; the selection finds what was downloaded
        selection = {k: v for k, v in settings["oasis"].items() if k != "discs"}
        rows = build_oasis_cohort(raw_dir, out_dir, seed=seed, **selection)
        labels = [int(r["label"]) for r in rows]
        summary = {
            "source": "oasis",
            "subjects": len(rows),
            "per_class": [labels.count(0), labels.count(1)],
            "selection": dict(settings["oasis"]),
        }
    else:
        raise ValueError(f"brain.source must be 'synthetic' or 'oasis', got {settings['source']!r}")
    write_json(out_dir / "cohort.json", summary)
    return summary


def tabulate_metrics(
    *,
    fold_jsons: Sequence[str | Path],
    inputs: Mapping[str, Mapping[str, Any]],
    svm_json: str | Path | None,
    csv_path: str | Path,
    md_path: str | Path,
    source: str,
) -> list[dict[str, Any]]:
    """``metrics.{csv,md}`` from every fold's ``fold.json`` (grouped by the configuration
    directory they sit in) and the SVM's folds."""
    from cnnpractice.brain.tables import metrics_rows, write_metrics

    by_input: dict[str, list[str]] = {name: [] for name in inputs}
    for path in fold_jsons:
        by_input[Path(path).parent.parent.name].append(str(path))
    rows = metrics_rows(by_input, inputs, svm_json)
    write_metrics(rows, csv_path, md_path, cohort="synthetic cohort" if source == "synthetic" else "OASIS-1")
    return rows
