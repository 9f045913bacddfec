"""The detection table of the elves study: the CNN's event classes on the held-out events.

Per class present in the test split: precision and recall (Wilson intervals), F1 (bootstrap
over events), counts; macro-F1 and accuracy; the chance row (always the majority class) and
a label-permutation null of macro-F1 (:func:`~cnnpractice.elves.scores.detection_rows`);
recall on the hard subsets (background events cut at the trace's edges, showers across
camera borders, multi-ring elves); the confusion matrix.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice import stats
from cnnpractice.elves import scores
from cnnpractice.tables import markdown_table, write_csv, write_markdown

log = logging.getLogger("cnnpractice.elves")

DETECTION_CSV = (
    "class",
    *stats.columns("precision"),
    *stats.columns("recall"),
    *stats.columns("f1"),
    "n_true",
    "n_predicted",
)


def _subsets(truth: Mapping[str, np.ndarray], class_names) -> list[tuple[str, np.ndarray, int]]:
    """(label, event mask, class) of the hard subsets present in the test split."""
    index = {name: k for k, name in enumerate(class_names)}
    subsets = []
    for name in ("shower", "laser", "lightning"):
        if name in index:
            subsets.append((f"{name}, cut at the trace's edges", np.asarray(truth["cut"], bool), index[name]))
    if "shower" in index:
        subsets.append(("shower across a camera border", np.asarray(truth["border"], bool), index["shower"]))
    if "elve" in index:
        subsets.append(("elve with 2-3 rings (multi-pulse)", np.asarray(truth["n_pulses"]) > 1, index["elve"]))
    return subsets


def write_detection(
    detector: Mapping[str, Any], truth: Mapping[str, np.ndarray], seed: int, csv: str | Path, md: str | Path
) -> None:
    """Write ``detection.csv`` (per class) and ``detection.md`` from the detector's test.json
    (``y_true``, ``y_pred``, ``class_names``, ``confusion``) and the test split's truth."""
    names = list(detector["class_names"])
    y_true, y_pred = np.asarray(detector["y_true"]), np.asarray(detector["y_pred"])
    if not np.array_equal(y_true, np.asarray(truth["label"])):
        raise ValueError("the detector's test labels are not the test shards' labels; rerun the detector")
    rows, summary = scores.detection_rows(y_true, y_pred, names, seed)
    write_csv(
        csv,
        [
            {
                "class": r["class"],
                **stats.flatten("precision", r["precision"]),
                **stats.flatten("recall", r["recall"]),
                **stats.flatten("f1", r["f1"], key="value"),
                "n_true": r["n_true"],
                "n_predicted": r["n_predicted"],
            }
            for r in rows
        ],
        DETECTION_CSV,
    )
    table = [
        {
            "class": r["class"],
            "precision": stats.cell(r["precision"]),
            "recall": stats.cell(r["recall"]),
            "f1": stats.cell(r["f1"]),
            "n_true": r["n_true"],
            "n_predicted": r["n_predicted"],
        }
        for r in rows
    ]
    chance, null = summary["chance"], summary["null"]
    lines = (
        f"\nMacro-F1 {stats.cell(summary['macro_f1'])}; accuracy {stats.cell(summary['accuracy'])} "
        f"(best epoch {detector.get('best_epoch')}, chosen on validation).\n\n"
        f'Chance (always "{chance["class"]}", the majority class): accuracy {stats.cell(chance["accuracy"])}, '
        f"macro-F1 {stats.cell(chance['macro_f1'])}.\n\n"
        f"Null (predictions shuffled against the labels, {null['n']} shuffles): macro-F1 {null['median']:.3f} "
        f"[{null['lo']:.3f}, {null['hi']:.3f}]; permutation p = {null['p']:.3g} for the observed macro-F1.\n"
    )
    hard = []
    for label, mask, k in _subsets(truth, names):
        cell = scores.subset_recall(y_true, y_pred, mask, k)
        if cell is not None:
            hard.append({"subset": label, "recall": stats.cell(cell)})
    present = [k for k in range(len(names)) if (y_true == k).any() or (y_pred == k).any()]
    confusion = np.asarray(detector["confusion"])
    matrix = [
        {"true": names[i], **{f"as {names[j]}": int(confusion[i][j]) for j in present}}
        for i in present
        if (y_true == i).any()
    ]
    sections = [
        (
            "Precision, recall and F1 per class on the held-out events",
            markdown_table(table, ("class", "precision", "recall", "f1", "n_true", "n_predicted")) + lines,
        ),
        (
            "Recall on the hard cases",
            (markdown_table(hard, ("subset", "recall")) if hard else "No such events in the test split.\n")
            + "\nCut: a background whose light starts before the trace or outlasts it; border: a shower track "
            "centred on a camera border; multi-ring: an elve of 2 or 3 pulses (`elves.nuisances.multi_ring`).\n",
        ),
        (
            "Confusion matrix (rows: true class)",
            markdown_table(matrix, ["true", *(f"as {names[j]}" for j in present)]),
        ),
    ]
    write_markdown(md, sections, title="Elves: detection by the CNN")
    log.info(f"detection: macro-F1 {stats.cell(summary['macro_f1'])}, accuracy {stats.cell(summary['accuracy'])}")
