"""The leakage experiment: slice-level vs subject-level splits, true vs shuffled labels.

Slices of one brain are near copies of each other. A split *by slice* puts every subject in
training and in test, so a network can score by recognising the subject rather than the
disease: Yagis et al. (2021, Sci Rep 11:22544) measured about 96 % accuracy on OASIS with
*random* labels under a slice-level split, and 50 % under a subject-level split. Four arms,
the same network, training settings and folds count (the study's interpreted configuration):

* ``subject_true`` -- the study itself (:func:`.training.train_folds`, read, not rerun);
* ``subject_shuffled`` -- subject-level folds, each subject's label replaced by another
  subject's (a seeded permutation across subjects: every slice of a subject keeps one label);
* ``slice_true`` / ``slice_shuffled`` -- stratified k-fold over *slices*, true or shuffled
  labels.

Under shuffled labels there is nothing to learn about the disease: a subject-level split must
give chance, a slice-level split gives what memorising subjects is worth. :func:`arm_parts`
builds the splits and :func:`mixed_subjects` says which subjects a split puts on both sides
(tested: none in the subject arms).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.tables import markdown_table, write_csv, write_markdown

log = logging.getLogger("cnnpractice.brain")
ARMS = {
    "subject_true": ("subject", False),
    "subject_shuffled": ("subject", True),
    "slice_true": ("slice", False),
    "slice_shuffled": ("slice", True),
}
TRAINED_ARMS = ("subject_shuffled", "slice_true", "slice_shuffled")  # subject_true is the study itself


def arm_labels(subject_label: np.ndarray, shuffled: bool, seed: int) -> np.ndarray:
    """Each subject's label in an arm: the true one, or a seeded permutation of the labels
    across subjects (class counts kept). Shapes: (M,) -> (M,) int64."""
    labels = np.asarray(subject_label, dtype=np.int64)
    if not shuffled:
        return labels.copy()
    return np.random.default_rng([int(seed), 15]).permutation(labels)


def arm_parts(
    subject_index: np.ndarray,
    subject_label: np.ndarray,
    *,
    split: str,
    folds: int,
    fold: int,
    seed: int,
    val_fraction: float = 0.0,
) -> dict[str, np.ndarray]:
    """Slice indices ``train``, ``val``, ``test`` of fold ``fold`` for a split ``"subject"``
    (:func:`.folds.fold_indices` on :func:`.folds.subject_folds`, as the study) or ``"slice"``
    (stratified k-fold over slices by their subject's label ``subject_label``; validation a
    stratified share of the training slices)."""
    from cnnpractice.brain.folds import fold_indices, subject_folds

    subject_index = np.asarray(subject_index)
    if split == "subject":
        parts = fold_indices(
            subject_index, subject_label, subject_folds(subject_label, folds, seed), fold, val_fraction, seed
        )
        return {k: parts[k] for k in ("train", "val", "test")}
    if split != "slice":
        raise ValueError(f"split must be 'subject' or 'slice', got {split!r}")
    from sklearn.model_selection import StratifiedKFold

    from cnnpractice.training.data import split_train_val

    y = np.asarray(subject_label)[subject_index]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    rest, test = list(splitter.split(np.zeros(len(y)), y))[fold]
    keep, val = split_train_val(y[rest], val_fraction, seed + fold)
    return {"train": np.sort(rest[keep]), "val": np.sort(rest[val]), "test": np.sort(test)}


def mixed_subjects(subject_index: np.ndarray, parts: Mapping[str, np.ndarray]) -> np.ndarray:
    """Subjects with slices both in training (or validation) and in test."""
    subject_index = np.asarray(subject_index)
    seen = np.union1d(subject_index[parts["train"]], subject_index[parts["val"]])
    return np.intersect1d(seen, subject_index[parts["test"]])


def train_arm(
    *,
    slices_dir: str | Path,
    out_dirs: Sequence[str | Path],
    arm: str,
    folds: int,
    cnn: Mapping[str, Any],
    training: Mapping[str, Any],
    trainer: Mapping[str, Any],
    seed: int,
) -> list[dict[str, Any]]:
    """Train every fold of ``arm`` (one of :data:`TRAINED_ARMS`) in this process; fold ``k``
    goes to ``out_dirs[k]`` (:func:`.training.fit_split`'s outputs; ``fold.json`` also says how
    many subjects the split mixed)."""
    from cnnpractice.brain.slices import load_slices
    from cnnpractice.brain.training import fit_split

    if arm not in ARMS:
        raise ValueError(f"unknown leakage arm {arm!r}; expected one of {sorted(ARMS)}")
    if len(out_dirs) != folds:
        raise ValueError(f"train_arm: {len(out_dirs)} output folders for {folds} folds")
    split, shuffled = ARMS[arm]
    x, meta = load_slices(slices_dir)
    labels = arm_labels(meta["subject_label"], shuffled, seed)
    out = []
    for fold, out_dir in enumerate(out_dirs):
        parts = arm_parts(
            meta["subject_index"],
            labels,
            split=split,
            folds=folds,
            fold=fold,
            seed=seed,
            val_fraction=float(training["val_fraction"]),
        )
        mixed = mixed_subjects(meta["subject_index"], parts)
        log.info("leakage %s fold %d: %d subjects on both sides", arm, fold, len(mixed))
        info = {"fold": fold, "folds": folds, "arm": arm, "mixed_subjects": int(len(mixed))}
        out.append(
            fit_split(
                x=x,
                meta=meta,
                labels=labels[meta["subject_index"]],
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


def leakage_rows(fold_jsons: Mapping[str, Sequence[str | Path]]) -> list[dict[str, Any]]:
    """One row per arm from its folds' ``fold.json``: slice accuracy over folds and by subject
    (every subject's share of correctly classified test slices over all folds, a mean over
    subjects: slices of one subject are not independent), subject-level accuracy where the
    split is by subject, and how many subjects each fold put on both sides."""
    from cnnpractice import stats

    rows = []
    for arm, paths in fold_jsons.items():
        folds = [json.loads(Path(p).read_text()) for p in paths]
        split, shuffled = ARMS[arm]
        correct: dict[str, list[int]] = {}
        for f in folds:
            for subject, (hit, total) in f["slices_by_subject"].items():
                acc = correct.setdefault(subject, [0, 0])
                acc[0] += hit
                acc[1] += total
        by_subject = stats.mean_ci([hit / total for hit, total in correct.values()])
        row = {
            "arm": arm,
            "split": split,
            "labels": "shuffled across subjects" if shuffled else "true",
            "folds": len(folds),
            "mixed": stats.mean_ci([f.get("mixed_subjects", 0) for f in folds]),
            "slice_acc": stats.mean_ci([f["slice_accuracy"] for f in folds]),
            "slice_acc_by_subject": by_subject,
            "subject_acc": stats.mean_ci([f["acc"] for f in folds]) if split == "subject" else None,
        }
        rows.append(row)
    return rows


def write_leakage(
    rows: Sequence[Mapping[str, Any]],
    slice_labels: np.ndarray,
    csv_path: str | Path,
    md_path: str | Path,
    ref: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``leakage.csv`` (every number with its interval and n) and ``leakage.md`` (the table,
    the chance row, Yagis et al.'s numbers beside, the verdict). ``slice_labels``: the true
    label of every slice (the chance row: majority class, pooled over the folds' test sets,
    which together hold every slice once; ``ref``: the loaded reference numbers, default the
    packaged ones). Returns the verdict's numbers."""
    from cnnpractice import stats
    from cnnpractice.reference import load_reference

    yagis = (ref or load_reference("brain"))["leakage_random_labels"]  # Yagis et al. 2021, OASIS
    chance = stats.chance_accuracy(slice_labels)
    keys = ("mixed", "slice_acc", "slice_acc_by_subject", "subject_acc")
    csv_rows = [
        {k: r[k] for k in ("arm", "split", "labels", "folds")}
        | {c: v for k in keys for c, v in stats.flatten(k, r[k]).items()}
        for r in rows
    ]
    csv_rows.append({"arm": "chance", "split": "", "labels": "majority class"} | stats.flatten("slice_acc", chance))
    write_csv(csv_path, csv_rows, ["arm", "split", "labels", "folds"] + [c for k in keys for c in stats.columns(k)])
    shown = [
        {
            "arm": r["arm"],
            "split": r["split"],
            "labels": r["labels"],
            "subjects on both sides (per fold)": stats.cell(r["mixed"], digits=1),
            "slice accuracy (folds)": stats.cell(r["slice_acc"]),
            "slice accuracy (by subject)": stats.cell(r["slice_acc_by_subject"]),
            "subject accuracy (folds)": stats.cell(r["subject_acc"]),
            "Yagis et al. 2021 (OASIS)": f"~{yagis[r['split']]:.2f}" if r["labels"] != "true" else "–",
        }
        for r in rows
    ]
    shown.append(
        {"arm": "chance", "labels": "majority class of the slices", "slice accuracy (folds)": stats.cell(chance)}
    )
    by_arm = {r["arm"]: r for r in rows}
    verdict: dict[str, Any] = {}
    text = (
        "Same network, training settings and folds in every arm; the subject_true row is the study's own "
        "cross-validation. Mean [95 % t interval] n = folds, or n = subjects for the by-subject column (each "
        "subject's share of correctly classified test slices: slices of one brain are not independent draws). "
        "Shuffled labels: each subject's label is another subject's (one label per subject), so there is no "
        "disease left to learn.\n\n"
    )
    if "subject_shuffled" in by_arm:
        s = by_arm["subject_shuffled"]["slice_acc_by_subject"]
        verdict["subject_shuffled_covers_chance"] = bool(s["lo"] <= 0.5 <= s["hi"])
        text += (
            f"Subject-level split, shuffled labels: {stats.cell(s)}; the interval "
            f"{'covers' if verdict['subject_shuffled_covers_chance'] else '**does not cover**'} 0.5.\n"
        )
    if "slice_shuffled" in by_arm:
        s = by_arm["slice_shuffled"]["slice_acc_by_subject"]
        verdict["slice_shuffled_above_chance"] = bool(s["lo"] > 0.5)
        what = (
            "above chance: the network recognises subjects"
            if verdict["slice_shuffled_above_chance"]
            else "not above chance: no leakage effect measured at this size"
        )
        text += f"Slice-level split, shuffled labels: {stats.cell(s)} ({what}).\n"
    columns = list(shown[0])
    write_markdown(md_path, [("Ours", text + "\n" + markdown_table(shown, columns))], title="Subject leakage")
    return verdict


def tabulate_leakage(
    *,
    fold_jsons: Mapping[str, Sequence[str | Path]],
    slices_dir: str | Path,
    csv_path: str | Path,
    md_path: str | Path,
    reference: str | Path | None = None,
) -> dict[str, Any]:
    """``leakage.{csv,md}`` from every arm's folds (``{arm: [fold.json, ...]}``, arms in
    :data:`ARMS` order) and the slices' true labels (the chance row); Yagis et al.'s numbers
    from ``reference`` (the rule's declared input; default the packaged file)."""
    from cnnpractice.brain.slices import load_slices
    from cnnpractice.reference import load_reference

    unknown = sorted(set(fold_jsons) - set(ARMS))
    if unknown:
        raise ValueError(f"unknown leakage arms {unknown}; expected {sorted(ARMS)}")
    _, meta = load_slices(slices_dir)
    rows = leakage_rows({arm: fold_jsons[arm] for arm in ARMS if arm in fold_jsons})
    verdict = write_leakage(rows, meta["label"], csv_path, md_path, ref=load_reference("brain", reference))
    log.info("leakage: %s", verdict)
    return verdict
