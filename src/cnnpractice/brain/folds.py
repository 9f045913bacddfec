"""Subject-level stratified k-fold cross-validation for slice datasets.

Slices of one brain are near copies of each other: a split by slice puts the same
subject in training and test and measures memory, not diagnosis. Every split here is by
subject; :func:`fold_indices` checks it and raises if a subject's slices ever end up in
two of (train, validation, test).
"""

from __future__ import annotations

import numpy as np


def subject_folds(subject_label: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold (0..k-1) of every subject, stratified by label and seeded.

    Shapes: subject_label (M,) int -> (M,) int.

    Raises
    ------
    ValueError
        When a class has fewer than ``k`` subjects (a fold would miss it in test).
    """
    from sklearn.model_selection import StratifiedKFold

    subject_label = np.asarray(subject_label)
    if np.unique(subject_label).size < 2:
        raise ValueError(
            f"subject folds need both classes; every subject has label {np.unique(subject_label)} "
            f"(did QC exclude a whole class? see qc.md)"
        )
    counts = np.bincount(subject_label)
    if k < 2 or counts[counts > 0].min() < k:
        raise ValueError(
            f"brain.cv.folds={k}: need 2 <= folds <= subjects of the smallest class ({counts[counts > 0].min()})"
        )
    folds = np.empty(len(subject_label), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for fold, (_, test) in enumerate(splitter.split(np.zeros(len(subject_label)), subject_label)):
        folds[test] = fold
    return folds


def validation_subjects(subjects: np.ndarray, subject_label: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A seeded, label-stratified share ``fraction`` of ``subjects`` (indices) for
    validation: at least one per class when there is room, none when ``fraction`` is 0."""
    rng = np.random.default_rng(seed)
    chosen = []
    if fraction <= 0:
        return np.array([], dtype=np.int64)
    for label in np.unique(subject_label[subjects]):
        members = subjects[subject_label[subjects] == label]
        n = min(len(members) - 1, max(1, int(round(fraction * len(members)))))
        chosen.extend(rng.permutation(members)[:n].tolist())
    return np.sort(np.array(chosen, dtype=np.int64))


def fold_indices(
    subject_index: np.ndarray, subject_label: np.ndarray, folds: np.ndarray, fold: int, val_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Slice indices of fold ``fold``'s training, validation and test parts.

    Test = the slices of the subjects in fold ``fold``; validation = the slices of a
    stratified share of the remaining subjects; training = the rest.

    Shapes: subject_index (N,) (each slice's subject), subject_label (M,), folds (M,).

    Returns
    -------
    ``{"train", "val", "test"}`` slice indices and ``{"train_subjects", "val_subjects",
    "test_subjects"}`` subject indices.
    """
    subjects = np.arange(len(folds))
    test_s = subjects[folds == fold]
    if test_s.size == 0:
        raise ValueError(f"fold {fold} has no subject (folds 0..{folds.max()})")
    rest = subjects[folds != fold]
    val_s = validation_subjects(rest, np.asarray(subject_label), val_fraction, seed + fold)
    train_s = np.setdiff1d(rest, val_s)
    part = np.full(len(folds), -1)
    part[train_s], part[val_s], part[test_s] = 0, 1, 2
    of_slice = part[np.asarray(subject_index)]
    out = {
        "train": np.flatnonzero(of_slice == 0),
        "val": np.flatnonzero(of_slice == 1),
        "test": np.flatnonzero(of_slice == 2),
        "train_subjects": train_s,
        "val_subjects": val_s,
        "test_subjects": test_s,
    }
    check_disjoint_subjects(np.asarray(subject_index), out)
    return out


def check_disjoint_subjects(subject_index: np.ndarray, parts: dict[str, np.ndarray]) -> None:
    """Raise ValueError if any subject has slices in two of train/val/test."""
    seen = {name: set(np.unique(subject_index[parts[name]]).tolist()) for name in ("train", "val", "test")}
    for a, b in (("train", "test"), ("val", "test"), ("train", "val")):
        shared = seen[a] & seen[b]
        if shared:
            raise ValueError(f"subject leakage: subjects {sorted(shared)[:5]} have slices in both {a} and {b}")
