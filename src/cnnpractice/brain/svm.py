"""The linear SVM on aligned voxels: the literature's strong baseline, on the CNN's subject folds."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.brain.metrics import subject_metrics
from cnnpractice.io import write_json

log = logging.getLogger("cnnpractice.brain")


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
        log.info(f"SVM fold {fold}: {per_fold[-1]}")
    out = {"features": int(X.shape[1]), "subjects": len(rows), "downsample": downsample, "folds": per_fold}
    write_json(out_json, out)
    return out
