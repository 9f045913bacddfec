"""Subject-level folds: no subject's slices in two of train / validation / test."""

import numpy as np
import pytest

from cnnpractice.brain.folds import check_disjoint_subjects, fold_indices, subject_folds


def random_cohort(rng):
    """A random cohort: 6-40 subjects per class, 1-30 slices each, shuffled slice order."""
    labels = np.repeat([0, 1], rng.integers(6, 41, size=2))
    rng.shuffle(labels)
    slices = rng.integers(1, 31, size=len(labels))
    subject_index = np.repeat(np.arange(len(labels)), slices)
    rng.shuffle(subject_index)
    return labels, subject_index


@pytest.mark.parametrize("seed", range(25))
def test_no_subject_leakage_over_random_cohorts(seed):
    rng = np.random.default_rng(seed)
    labels, subject_index = random_cohort(rng)
    k = int(rng.integers(2, 6))
    val_fraction = float(rng.choice([0.0, 0.1, 0.25]))
    folds = subject_folds(labels, k, seed)
    tested = []
    for fold in range(k):
        parts = fold_indices(subject_index, labels, folds, fold, val_fraction, seed)
        subjects = {name: set(subject_index[parts[name]]) for name in ("train", "val", "test")}
        assert not subjects["train"] & subjects["test"]
        assert not subjects["val"] & subjects["test"]
        assert not subjects["train"] & subjects["val"]
        # every slice is in exactly one part, and a subject's slices stay together
        together = np.concatenate([parts["train"], parts["val"], parts["test"]])
        assert np.array_equal(np.sort(together), np.arange(len(subject_index)))
        assert set(np.flatnonzero(np.isin(subject_index, parts["test_subjects"]))) == set(parts["test"])
        # both classes in every test fold (stratified) and in training
        assert set(labels[parts["test_subjects"]]) == {0, 1}
        assert set(labels[parts["train_subjects"]]) == {0, 1}
        tested.extend(parts["test_subjects"].tolist())
    # every subject is tested exactly once over the folds
    assert sorted(tested) == list(range(len(labels)))


def test_folds_are_seeded_and_stratified():
    labels = np.array([0] * 20 + [1] * 20)
    a, b = subject_folds(labels, 5, 3), subject_folds(labels, 5, 3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, subject_folds(labels, 5, 4))
    for fold in range(5):
        assert np.bincount(labels[a == fold]).tolist() == [4, 4]


def test_validation_subjects_come_from_training_subjects_only():
    labels = np.array([0] * 10 + [1] * 10)
    subject_index = np.repeat(np.arange(20), 3)
    folds = subject_folds(labels, 5, 0)
    parts = fold_indices(subject_index, labels, folds, 2, 0.25, 0)
    assert len(parts["val_subjects"]) == 4 and set(labels[parts["val_subjects"]]) == {0, 1}
    assert not set(parts["val_subjects"]) & set(parts["test_subjects"])


@pytest.mark.parametrize(
    "labels,k,match",
    [
        ([0, 0, 0, 1, 1], 3, "smallest class"),
        ([0, 0, 1, 1], 1, "folds"),
        ([1, 1, 1, 1], 2, "need both classes"),
    ],
)
def test_bad_fold_counts(labels, k, match):
    with pytest.raises(ValueError, match=match):
        subject_folds(np.array(labels), k, 0)


def test_leakage_check_names_the_subjects():
    subject_index = np.array([0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match=r"subject leakage: subjects \[1\].*train and test"):
        check_disjoint_subjects(
            subject_index, {"train": np.array([0, 2]), "val": np.array([], int), "test": np.array([3, 4])}
        )


def test_slice_level_split_would_leak():
    """The check catches what a split by slice does (the pitfall it guards against)."""
    from sklearn.model_selection import train_test_split

    subject_index = np.repeat(np.arange(10), 8)
    train, test = train_test_split(np.arange(len(subject_index)), test_size=0.2, random_state=0)
    with pytest.raises(ValueError, match="subject leakage"):
        check_disjoint_subjects(subject_index, {"train": train, "val": np.array([], int), "test": test})
