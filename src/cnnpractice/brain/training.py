"""The brain CNN trained over cross-validation folds: one fit per split, all folds in one job.

* :func:`fit_split` -- one network trained on given training slices and labels, tested on
  given test slices (the core every arm of the study uses: the main subject-level folds and
  the leakage experiment's arms, :mod:`.leakage`).
* :func:`train_folds` -- the study's subject-level folds with the true labels, every fold in
  one process: importing torch and Lightning costs ~7 s per process, a fit at the offline
  size a few seconds.

A subject's prediction is the mean of its slices' class-1 probabilities
(:func:`.metrics.aggregate_subjects`, :func:`.metrics.subject_metrics`). Every fit goes through
the shared core :func:`cnnpractice.training.runner.fit_and_test` (resumable, corrupt
checkpoints restarted).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.brain.metrics import aggregate_subjects, subject_metrics
from cnnpractice.io import write_json
from cnnpractice.tables import write_csv

log = logging.getLogger("cnnpractice.brain")
CLASS_NAMES = ["control", "impaired"]


def fit_split(
    *,
    x: np.ndarray,
    meta: Mapping[str, np.ndarray],
    labels: np.ndarray,
    train: np.ndarray,
    val: np.ndarray,
    test: np.ndarray,
    out_dir: str | Path,
    cnn: Mapping[str, Any],
    training: Mapping[str, Any],
    trainer: Mapping[str, Any],
    seed: int,
    info: Mapping[str, Any],
) -> dict[str, Any]:
    """Train the brain CNN on slices ``train`` (validation ``val``, may be empty) with slice
    labels ``labels`` (N,), and test it on slices ``test``.

    Writes (besides the runner's model.ckpt, metrics.csv, tensorboard/, test.json with every
    test slice's probabilities) ``predictions.csv``: per test subject, its label, the mean of
    its test slices' class-1 probabilities, the prediction and the slice count; and
    ``fold.json``: ``info``, the slice accuracy, each test subject's correct/total slices
    (``slices_by_subject``) and the subject-level metrics.
    """
    from cnnpractice.training.data import ArrayDataModule
    from cnnpractice.training.runner import fit_and_test, process_rank
    from cnnpractice.training.settings import TrainingSettings

    settings = TrainingSettings.from_config(training, key="brain.training")
    out_dir = Path(out_dir)
    labels = np.asarray(labels, dtype=np.int64)
    dm = ArrayDataModule(
        x,
        labels,
        np.asarray(x[test]),
        labels[test],
        batch_size=settings.batch_size,
        seed=seed,
        standardize="global",
        split=(np.asarray(train), np.asarray(val)),
    )
    spec = {
        "name": "brain_cnn",
        "in_channels": int(x.shape[1]),
        "n_classes": 2,
        "input_size": int(x.shape[-1]),
        **{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in cnn.items()},
    }
    names = meta["subjects"]
    result = fit_and_test(
        task="classification",
        net_spec=spec,
        datamodule=dm,
        out_dir=out_dir,
        fit=settings.fit,
        seed=seed,
        trainer_options=dict(trainer),
        class_names=CLASS_NAMES,
        save_probabilities=True,
        extra_info={**info, "mean": float(np.ravel(dm.mean)[0]), "std": float(np.ravel(dm.std)[0])},
    )
    prob1 = np.asarray(result["y_prob"], dtype=float)[:, 1]
    test_subjects = meta["subject_index"][test]
    subjects, prob, counts = aggregate_subjects(test_subjects, prob1)
    # a subject's label in this arm: the label of its slices (one per subject in every arm)
    first = {int(s): int(labels[t]) for s, t in zip(test_subjects[::-1], np.asarray(test)[::-1])}
    y = np.array([first[int(s)] for s in subjects])
    correct = np.asarray(result["y_pred"]) == labels[test]
    by_subject = {
        str(names[s]): [int(correct[test_subjects == s].sum()), int((test_subjects == s).sum())] for s in subjects
    }
    # DDP: rank 0 alone writes (the runner publishes out_dir from rank 0; the others go on)
    rank0 = process_rank() == 0
    if rank0:
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
    summary = {
        **info,
        "subjects": int(len(subjects)),
        "labels": [int(v) for v in y],
        "slices": int(len(test)),
        "slice_accuracy": result["test_accuracy"],
        "slices_by_subject": by_subject,
        **subject_metrics(y, prob),
    }
    if rank0:
        write_json(out_dir / "fold.json", summary)
    log.info("%s: subject-level acc %.3f, slice-level %.3f", out_dir, summary["acc"], summary["slice_accuracy"])
    return summary


def train_folds(
    *,
    slices_dir: str | Path,
    out_dirs: Sequence[str | Path],
    folds: int,
    cnn: Mapping[str, Any],
    training: Mapping[str, Any],
    trainer: Mapping[str, Any],
    seed: int,
) -> list[dict[str, Any]]:
    """Train the brain CNN on every subject-level fold (stratified, seeded by ``seed`` so every
    configuration sees the same folds) with the true labels; fold ``k`` is written to
    ``out_dirs[k]`` (see :func:`fit_split`)."""
    from cnnpractice.brain.folds import fold_indices, subject_folds
    from cnnpractice.brain.slices import load_slices
    from cnnpractice.training.settings import TrainingSettings

    if len(out_dirs) != folds:
        raise ValueError(f"train_folds: {len(out_dirs)} output folders for {folds} folds")
    val_fraction = TrainingSettings.from_config(training, key="brain.training").val_fraction
    x, meta = load_slices(slices_dir)
    subject_label = meta["subject_label"]
    assignment = subject_folds(subject_label, folds, seed)
    names = meta["subjects"]
    out = []
    for fold, out_dir in enumerate(out_dirs):
        parts = fold_indices(meta["subject_index"], subject_label, assignment, fold, val_fraction, seed)
        log.info(
            "fold %d/%d: %d train / %d val / %d test subjects",
            fold,
            folds,
            len(parts["train_subjects"]),
            len(parts["val_subjects"]),
            len(parts["test_subjects"]),
        )
        info = {
            "fold": fold,
            "folds": folds,
            "arm": "subject_true",
            "train_subjects": names[parts["train_subjects"]].tolist(),
            "val_subjects": names[parts["val_subjects"]].tolist(),
            "test_subjects": names[parts["test_subjects"]].tolist(),
        }
        out.append(
            fit_split(
                x=x,
                meta=meta,
                labels=meta["label"],
                train=parts["train"],
                val=parts["val"],
                test=parts["test"],
                out_dir=out_dir,
                cnn=cnn,
                training=training,
                trainer=trainer,
                seed=seed + fold,
                info=info,
            )
        )
    return out
