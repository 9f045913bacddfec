"""The brain tables recomputed from every fold's files and the SVM's folds."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import stats as sps

from cnnpractice.stats import proportion_ci
from e2e_tables.common import above_chance, majority, num, read_csv, same, same_summary, t_interval

BRAIN_METRICS = ("acc", "auc", "tpr", "fpr")


def _subject_metrics(predictions: Sequence[dict]) -> dict[str, float]:
    """Subject-level accuracy, AUC (Mann-Whitney U / n1 n0), TPR and FPR of a fold's
    ``predictions.csv``."""
    y = np.array([int(r["label"]) for r in predictions])
    prob = np.array([float(r["prob"]) for r in predictions])
    pred = (prob >= 0.5).astype(int)
    assert np.array_equal(pred, [int(r["pred"]) for r in predictions])
    pos, neg = y == 1, y == 0
    auc = (
        sps.mannwhitneyu(prob[pos], prob[neg]).statistic / (pos.sum() * neg.sum())
        if pos.any() and neg.any()
        else math.nan
    )
    return {
        "acc": float(np.mean(pred == y)),
        "auc": float(auc),
        "tpr": float(pred[pos].mean()) if pos.any() else math.nan,
        "fpr": float(pred[neg].mean()) if neg.any() else math.nan,
    }


def _brain_folds(wf: Path, prefix: str, labels: dict[str, int]) -> list[dict]:
    """Every fold of ``results/brain/<prefix>``: ``fold.json`` checked against the fold's
    per-subject ``predictions.csv``, its slice-level ``test.json`` and the cohort's labels."""
    folds = []
    for fold_dir in sorted((wf / "results/brain" / prefix).glob("fold*")):
        where = str(fold_dir.relative_to(wf))
        fold = json.loads((fold_dir / "fold.json").read_text())
        res = json.loads((fold_dir / "test.json").read_text())
        same(str(fold["slice_accuracy"]), float(np.mean(np.asarray(res["y_true"]) == np.asarray(res["y_pred"]))), where)
        assert sum(t for _, t in fold["slices_by_subject"].values()) == len(res["y_true"]), where
        hits = sum(h for h, _ in fold["slices_by_subject"].values())
        assert hits == int(np.sum(np.asarray(res["y_true"]) == np.asarray(res["y_pred"]))), where
        if "test_subjects" in res:  # the study's own folds (a leakage arm's slices mix subjects)
            assert sorted(fold["slices_by_subject"]) == sorted(res["test_subjects"]), where
        if (fold_dir / "predictions.csv").exists():
            predictions = read_csv(fold_dir / "predictions.csv")
            assert sorted(r["subject"] for r in predictions) == sorted(fold["slices_by_subject"]), where
            if "shuffled" not in prefix:
                assert all(int(r["label"]) == labels[r["subject"]] for r in predictions), f"{where}: labels"
            for name, value in _subject_metrics(predictions).items():
                same(str(fold[name]), value, f"{where} {name}")
        folds.append(fold)
    assert folds, f"no folds under results/brain/{prefix}"
    return folds


def _same_brain_row(row: dict, folds: Sequence[dict], where: str) -> None:
    for m in BRAIN_METRICS:
        values = [f[m] for f in folds if f[m] == f[m]]
        same_summary(row, f"{m}_folds", t_interval(values), f"{where} {m}")
    correct = sum(round(f["acc"] * f["subjects"]) for f in folds)
    same_summary(row, "acc", proportion_ci(correct, sum(f["subjects"] for f in folds)), where)


def check_brain_tables(wf: Path) -> None:
    """``metrics.csv`` from every fold's ``fold.json`` (each checked against its per-subject
    predictions, its slice-level test.json and the cohort's labels) and the SVM's folds;
    ``leakage.csv`` from every arm's folds."""
    labels = {r["subject"]: int(r["label"]) for r in read_csv(wf / "results/brain/qc.csv")}
    rows = {r["input"]: r for r in read_csv(wf / "results/brain/metrics.csv")}
    cnn = [name for name, r in rows.items() if r["model"] == "cnn"]
    assert cnn, "metrics.csv has no CNN row"
    folds = {}
    for name in cnn:
        folds[name] = _brain_folds(wf, name, labels)
        _same_brain_row(rows[name], folds[name], f"metrics.csv {name}")
        assert rows[name]["folds"] == str(len(folds[name]))
    svm = json.loads((wf / "results/brain/svm/folds.json").read_text())["folds"]
    _same_brain_row(rows["voxels"], svm, "metrics.csv voxels")
    tested = [v for f in folds[cnn[0]] for v in f["labels"]]
    assert sorted(tested) == sorted(labels.values()), "the folds do not test every included subject once"
    same_summary(rows["chance"], "acc", majority(tested), "metrics.csv chance")

    leakage = wf / "results/brain/leakage.csv"
    if leakage.exists():
        arms = {r["arm"]: r for r in read_csv(leakage)}
        interpreted = next(iter(cnn))
        for arm, row in arms.items():
            if arm == "chance":
                continue
            arm_folds = folds[interpreted] if arm == "subject_true" else _brain_folds(wf, f"leakage/{arm}", labels)
            where = f"leakage.csv {arm}"
            same_summary(row, "slice_acc", t_interval([f["slice_accuracy"] for f in arm_folds]), where)
            same_summary(row, "mixed", t_interval([f.get("mixed_subjects", 0) for f in arm_folds]), where)
            per_subject: dict[str, list[int]] = {}
            for f in arm_folds:
                for subject, (hit, total) in f["slices_by_subject"].items():
                    acc = per_subject.setdefault(subject, [0, 0])
                    acc[0], acc[1] = acc[0] + hit, acc[1] + total
            by_subject = t_interval([h / t for h, t in per_subject.values()])
            same_summary(row, "slice_acc_by_subject", by_subject, where)
            if row["split"] == "subject":
                same_summary(row, "subject_acc", t_interval([f["acc"] for f in arm_folds]), where)
            else:
                assert row["subject_acc"] == "", where
        tests = sorted((wf / "results/brain" / interpreted).glob("fold*/test.json"))
        slices = [v for path in tests for v in json.loads(path.read_text())["y_true"]]
        same_summary(arms["chance"], "slice_acc", majority(slices), "leakage.csv chance")
    # above chance: on the tiny cohort (4 + 4 subjects, one epoch) no classifier is (the CNN
    # and the SVM sit at 4-6 of 8), so the brain study's one result above its null is the
    # alignment: every subject correlates better with the template after it than before
    qc = read_csv(wf / "results/brain/qc.csv")
    better = sum(num(r["corr_after"]) > num(r["corr_before"]) for r in qc)
    above_chance(better, len(qc), 0.5, "brain alignment (correlation with the template after > before)")
