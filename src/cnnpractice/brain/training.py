"""The brain CNN on one subject-level fold of one slice configuration, with subject-level
predictions (mean of the subject's slice probabilities)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.brain.metrics import aggregate_subjects, subject_metrics
from cnnpractice.io import write_json
from cnnpractice.tables import write_csv

log = logging.getLogger("cnnpractice.brain")
CLASS_NAMES = ["control", "impaired"]


def train_fold(
    *,
    slices_dir: str | Path,
    out_dir: str | Path,
    fold: int,
    folds: int,
    cnn: Mapping[str, Any],
    training: Mapping[str, Any],
    trainer: Mapping[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Train the brain CNN on fold ``fold`` of ``folds`` (subject-level, stratified, seeded by
    ``seed`` so every configuration sees the same folds) and test it on the fold's subjects.

    Writes (besides the runner's model.ckpt, metrics.csv, tensorboard/, test.json with every
    test slice's probabilities) ``predictions.csv``: subject, label, prob (mean of its slices'
    class-1 probabilities), pred, n_slices; and ``fold.json``: the subject-level metrics.
    """
    from cnnpractice.brain.folds import fold_indices, subject_folds
    from cnnpractice.brain.slices import load_slices
    from cnnpractice.training.data import ArrayDataModule
    from cnnpractice.training.runner import fit_and_test
    from cnnpractice.training.settings import TrainingSettings

    settings = TrainingSettings.from_config(training, key="brain.training")
    out_dir = Path(out_dir)
    x, meta = load_slices(slices_dir)
    subject_label = meta["subject_label"]
    parts = fold_indices(
        meta["subject_index"],
        subject_label,
        subject_folds(subject_label, folds, seed),
        fold,
        settings.val_fraction,
        seed,
    )
    test_idx = parts["test"]
    dm = ArrayDataModule(
        x,
        meta["label"],
        np.asarray(x[test_idx]),
        meta["label"][test_idx],
        batch_size=settings.batch_size,
        seed=seed + fold,
        standardize="global",
        split=(parts["train"], parts["val"]),
    )
    spec = {
        "name": "brain_cnn",
        "in_channels": int(x.shape[1]),
        "n_classes": 2,
        "input_size": int(x.shape[-1]),
        **{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in cnn.items()},
    }
    log.info(
        f"fold {fold}/{folds}: {len(parts['train_subjects'])} train / {len(parts['val_subjects'])} val / "
        f"{len(parts['test_subjects'])} test subjects "
        f"({len(parts['train'])}/{len(parts['val'])}/{len(test_idx)} slices)"
    )
    names = meta["subjects"]
    result = fit_and_test(
        task="classification",
        net_spec=spec,
        datamodule=dm,
        out_dir=out_dir,
        fit=settings.fit,
        seed=seed + fold,
        trainer_options=dict(trainer),
        class_names=CLASS_NAMES,
        save_probabilities=True,
        extra_info={
            "fold": fold,
            "folds": folds,
            "mean": float(np.ravel(dm.mean)[0]),
            "std": float(np.ravel(dm.std)[0]),
            "train_subjects": names[parts["train_subjects"]].tolist(),
            "val_subjects": names[parts["val_subjects"]].tolist(),
            "test_subjects": names[parts["test_subjects"]].tolist(),
        },
    )
    prob1 = np.asarray(result["y_prob"], dtype=float)[:, 1]
    subjects, prob, counts = aggregate_subjects(meta["subject_index"][test_idx], prob1)
    y = subject_label[subjects]
    metrics = subject_metrics(y, prob)
    write_csv(
        out_dir / "predictions.csv",
        [
            {
                "subject": names[s],
                "label": int(lab),
                "prob": round(float(p), 6),
                "pred": int(p >= 0.5),
                "n_slices": int(c),
            }
            for s, lab, p, c in zip(subjects, y, prob, counts)
        ],
        ["subject", "label", "prob", "pred", "n_slices"],
    )
    summary = {"fold": fold, "subjects": int(len(subjects)), "slice_accuracy": result["test_accuracy"], **metrics}
    write_json(out_dir / "fold.json", summary)
    log.info(f"fold {fold}: subject-level {metrics} (slice-level accuracy {result['test_accuracy']:.3f})")
    return summary
