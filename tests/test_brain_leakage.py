"""The leakage experiment's splits and table: only the slice-level arms mix subjects."""

import json

import numpy as np
import pytest

from cnnpractice.brain import leakage
from cnnpractice.brain.folds import fold_indices, subject_folds


def cohort(seed, subjects=None, slices=None):
    rng = np.random.default_rng(seed)
    subjects = subjects or int(rng.integers(10, 30))
    slices = slices or int(rng.integers(3, 12))
    label = rng.permutation(np.arange(subjects) % 2)
    return np.repeat(np.arange(subjects), slices), label


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("arm", sorted(leakage.ARMS))
def test_only_slice_level_arms_mix_subjects(seed, arm):
    subject_index, subject_label = cohort(seed)
    split, shuffled = leakage.ARMS[arm]
    labels = leakage.arm_labels(subject_label, shuffled, seed)
    folds = 3
    tested = []
    for fold in range(folds):
        parts = leakage.arm_parts(
            subject_index, labels, split=split, folds=folds, fold=fold, seed=seed, val_fraction=0.2
        )
        mixed = leakage.mixed_subjects(subject_index, parts)
        if split == "subject":
            assert mixed.size == 0
        else:  # a random slice split puts most subjects on both sides
            assert mixed.size >= 0.5 * np.unique(subject_index[parts["test"]]).size
        assert not set(parts["train"]) & set(parts["test"]) and not set(parts["val"]) & set(parts["test"])
        tested.append(parts["test"])
    # every slice is tested exactly once over the folds
    assert np.array_equal(np.sort(np.concatenate(tested)), np.arange(subject_index.size))


def test_subject_true_arm_is_the_studys_own_split():
    subject_index, subject_label = cohort(5, subjects=20, slices=4)
    for fold in range(4):
        ours = leakage.arm_parts(subject_index, subject_label, split="subject", folds=4, fold=fold, seed=9)
        study = fold_indices(subject_index, subject_label, subject_folds(subject_label, 4, 9), fold, 0.0, 9)
        assert all(np.array_equal(ours[k], study[k]) for k in ("train", "val", "test"))


def test_shuffled_labels_move_across_subjects_and_keep_counts():
    _, label = cohort(1, subjects=24)
    shuffled = leakage.arm_labels(label, True, 3)
    assert np.bincount(shuffled).tolist() == np.bincount(label).tolist()
    assert (shuffled != label).any() and np.array_equal(shuffled, leakage.arm_labels(label, True, 3))
    assert np.array_equal(leakage.arm_labels(label, False, 3), label)


def test_unknown_split_and_arm_are_errors(tmp_path):
    with pytest.raises(ValueError, match="split must be"):
        leakage.arm_parts(np.arange(4), np.array([0, 1, 0, 1]), split="voxel", folds=2, fold=0, seed=0)
    with pytest.raises(ValueError, match="unknown leakage arm"):
        leakage.train_arm(
            slices_dir=tmp_path, out_dirs=[], arm="slice_random", folds=2, cnn={}, training={}, trainer={}, seed=0
        )


def fold_json(path, arm, fold, slice_acc, acc, by_subject, mixed):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "arm": arm,
                "fold": fold,
                "slice_accuracy": slice_acc,
                "acc": acc,
                "subjects": len(by_subject),
                "slices_by_subject": by_subject,
                "mixed_subjects": mixed,
            }
        )
    )
    return path


def test_leakage_table_has_chance_row_intervals_and_verdict(tmp_path):
    paths = {}
    for arm, (acc, mixed) in {
        "subject_true": (0.8, 0),
        "subject_shuffled": (0.5, 0),
        "slice_true": (0.9, 4),
        "slice_shuffled": (0.95, 4),
    }.items():
        paths[arm] = []
        for fold in range(2):
            spread = (-2, 2, -1, 1)  # subjects differ around the arm's accuracy
            hits = {f"s{fold}{i}": [min(10, int(round(acc * 10)) + spread[i]), 10] for i in range(4)}
            paths[arm].append(fold_json(tmp_path / arm / f"{fold}.json", arm, fold, acc, acc, hits, mixed))
    rows = leakage.leakage_rows(paths)
    verdict = leakage.write_leakage(rows, np.array([0, 1] * 40), tmp_path / "l.csv", tmp_path / "l.md")
    md = (tmp_path / "l.md").read_text()
    assert "| chance |" in md and "0.500 [" in md and "~0.96" in md
    assert verdict == {"subject_shuffled_covers_chance": True, "slice_shuffled_above_chance": True}
    header = (tmp_path / "l.csv").read_text().splitlines()[0].split(",")
    assert {"slice_acc_by_subject", "slice_acc_by_subject_ci_low", "slice_acc_by_subject_n"} <= set(header)
