"""Subject-level detection metrics, shared by the CNN folds and the SVM baseline."""

from __future__ import annotations

import numpy as np


def subject_metrics(y: np.ndarray, prob: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, AUC, TPR (impaired found) and FPR (controls called impaired) of subject-level
    probabilities of class 1. AUC is NaN when only one class is present."""
    from sklearn.metrics import roc_auc_score

    y, prob = np.asarray(y), np.asarray(prob, dtype=float)
    pred = (prob >= threshold).astype(int)
    pos, neg = y == 1, y == 0
    return {
        "acc": float((pred == y).mean()),
        "auc": float(roc_auc_score(y, prob)) if pos.any() and neg.any() else float("nan"),
        "tpr": float(pred[pos].mean()) if pos.any() else float("nan"),
        "fpr": float(pred[neg].mean()) if neg.any() else float("nan"),
    }


def aggregate_subjects(subject_index: np.ndarray, prob1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(subjects, mean probability of class 1, slice count) per subject, vectorised."""
    subjects, inverse, counts = np.unique(subject_index, return_inverse=True, return_counts=True)
    return subjects, np.bincount(inverse, weights=prob1) / counts, counts
