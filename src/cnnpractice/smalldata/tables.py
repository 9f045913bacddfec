"""The learned vs engineered features table: accuracy with its interval, dimensions, chance.

``features.{csv,md}``: per dataset, feature set and linear classifier the test accuracy
(``C`` chosen by cross-validation on the training split only) with its 95 % interval
and n, the feature set's dimensions, the chosen ``C`` and the cross-validation accuracy
(mean over the folds, t interval, n = folds). The interval of the test accuracy is

* over seeds (t interval, n = seeds) when the learned sets come from several trained
  networks (``smalldata.features.seeds`` > 1);
* otherwise the Wilson interval of the proportion on the test split (n = test images),
  labelled as such: it covers the test sample, not the training run's variability.

A chance row (always the majority class of the test split) opens every dataset's table.
The greedy vs end-to-end table lives in :mod:`.greedy_table`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice import stats
from cnnpractice.reference import load_reference
from cnnpractice.tables import markdown_table, write_csv, write_markdown

ACC, CV, AUC = stats.columns("accuracy"), stats.columns("cv_accuracy"), stats.columns("auc")
FEATURE_COLUMNS = (
    "dataset",
    "feature_set",
    "classifier",
    *ACC,
    "interval",
    "n_features",
    "best_C",
    *CV,
    *AUC,
    "seeds",
    "n_train",
    "n_test",
)
ENGINEERED_ORDER = ("hog", "hgd", "hcfeats", "decaf_fc6", "decaf_fc7")
CHANCE = "chance (majority class)"
OVER_SEEDS = "t, over seeds"
TEST_SPLIT = "Wilson, test split (n = test images)"
_SEED = re.compile(r"_seed(\d+)$")
_LEARNED = re.compile(r"^(?P<net>.+)_conv(?P<block>\d)(?:_(?P<grid>\d+)x\d+)?$")


def _load(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        data = json.loads(Path(path).read_text())
        rows.extend(data if isinstance(data, list) else [data])
    return rows


def feature_order(name: str) -> tuple:
    """Chance first, then the engineered sets, then learned sets by network, block, grid."""
    if name == CHANCE:
        return (0, 0, "", 0, 0)
    if name in ENGINEERED_ORDER:
        return (1, ENGINEERED_ORDER.index(name), "", 0, 0)
    match = _LEARNED.match(name)
    if match:
        return (2, 0, match["net"], int(match["block"]), int(match["grid"] or 1))
    return (3, 0, name, 0, 0)


def summarise(group: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One (dataset, feature set, classifier) over its seeds (or its single run)."""
    first = group[0]
    seeds = sorted({r.get("seed") for r in group if r.get("seed") is not None})
    if len(group) > 1:
        accuracy, interval = stats.mean_ci([r["accuracy"] for r in group]), OVER_SEEDS
    else:
        n = int(first["n_test"])
        accuracy, interval = stats.proportion_ci(int(round(first["accuracy"] * n)), n), TEST_SPLIT
    folds = [s for r in group for s in (r.get("cv_scores") or [])]
    aucs = [r["auc"] for r in group if r.get("auc") is not None]
    if len(aucs) > 1:
        auc = stats.mean_ci(aucs)
    elif aucs:
        auc = {"mean": aucs[0], "lo": first.get("auc_lo"), "hi": first.get("auc_hi"), "n": first["n_test"]}
    else:
        auc = None
    return {
        "dataset": first["dataset"],
        "feature_set": first["feature_set"],
        "classifier": first["classifier"],
        **stats.flatten("accuracy", accuracy),
        "interval": interval,
        "n_features": first.get("n_features"),
        "best_C": ";".join(f"{r['best_C']:g}" for r in group),
        **stats.flatten("cv_accuracy", stats.mean_ci(folds) if folds else None),
        **stats.flatten("auc", auc),
        "seeds": ";".join(str(s) for s in seeds) or None,
        "n_train": first.get("n_train"),
        "n_test": first.get("n_test"),
    }


def feature_rows(scores: Sequence[Mapping[str, Any]], test_labels: Mapping[str, np.ndarray]) -> list[dict]:
    """Summarised rows (chance row first per dataset), sorted as :func:`feature_order`."""
    groups: dict[tuple, list[dict]] = {}
    for row in scores:
        seed = _SEED.search(row.get("feature_file") or "")
        row = {**row, "seed": int(seed[1]) if seed else None}
        groups.setdefault((row["dataset"], row["feature_set"], row["classifier"]), []).append(row)
    rows = [summarise(g) for g in groups.values()]
    for dataset in sorted({r["dataset"] for r in rows}):
        if dataset not in test_labels:
            raise ValueError(f"{dataset}: no test labels given for its chance row")
        chance = stats.chance_accuracy(test_labels[dataset])
        rows.append(
            {"dataset": dataset, "feature_set": CHANCE, "classifier": None, **stats.flatten("accuracy", chance)}
            | {"interval": "Wilson, test split", "n_test": chance["n"]}
        )
    return sorted(rows, key=lambda r: (r["dataset"], feature_order(r["feature_set"]), r["classifier"] or ""))


def _cell(row: Mapping[str, Any], prefix: str) -> str:
    name, lo, hi, n = stats.columns(prefix)
    if row.get(name) is None:
        return "–"
    nan = float("nan")
    return stats.cell(
        {
            "mean": row[name],
            "lo": nan if row.get(lo) is None else row[lo],
            "hi": nan if row.get(hi) is None else row[hi],
        }
        | {"n": row.get(n)}
    )


def tabulate_features(
    *,
    scores: Sequence[str | Path],
    out_csv: str | Path,
    out_md: str | Path,
    test_labels: Mapping[str, np.ndarray],
    reference: str | Path | None = None,
) -> list[dict]:
    """Write ``features.{csv,md}`` from the score files of ``classify`` (one or more sets each)."""
    ref = load_reference("smalldata", reference)
    rows = feature_rows(_load(scores), test_labels)
    write_csv(out_csv, rows, FEATURE_COLUMNS)
    sections = []
    for dataset in sorted({r["dataset"] for r in rows}):
        mine = [r for r in rows if r["dataset"] == dataset]
        classifiers = sorted({r["classifier"] for r in mine if r["classifier"]})
        binary = any(r.get("auc") is not None for r in mine)
        table: dict[str, dict] = {}
        for r in mine:
            entry = table.setdefault(r["feature_set"], {"feature_set": r["feature_set"], "dims": r.get("n_features")})
            if r["classifier"] is None:
                for c in classifiers:
                    entry[c] = _cell(r, "accuracy")
                entry["interval"] = r["interval"]
                continue
            entry[r["classifier"]] = _cell(r, "accuracy")
            entry[f"{r['classifier']} C"] = r["best_C"]
            entry[f"{r['classifier']} CV"] = _cell(r, "cv_accuracy")
            entry[f"{r['classifier']} AUC"] = _cell(r, "auc") if binary else None
            entry["interval"] = r["interval"]
        columns = ["feature_set", "dims"]
        headers = ["feature set", "dims"]
        for c in classifiers:
            columns += [c, f"{c} C", f"{c} CV"] + ([f"{c} AUC"] if binary else [])
            headers += [f"{c} test accuracy [95 % CI] n", "C", "CV accuracy [95 % CI] folds"]
            headers += [f"{c} AUC"] if binary else []
        columns.append("interval")
        headers.append("interval")
        ordered = [table[k] for k in sorted(table, key=feature_order)]
        sections.append((dataset, markdown_table(ordered, columns, headers)))
    notes = (
        "Test accuracy of linear classifiers on each feature set; C is chosen from the grid by "
        "stratified cross-validation on the training split only (the CV column: the chosen C's mean over "
        "the folds, n = folds). Learned sets are <arch>_<greedy|full>_conv<b>: conv block b of the L5 "
        "network (learning rate and epoch chosen on validation), global-average-pooled, or with _gxg "
        "average-pooled to a g x g grid (dims = channels x g x g), which brings them near the dimensions "
        "of HOG. Interval: over seeds when several trained networks give the set; otherwise the Wilson "
        "interval of the proportion on the test split (n = test images), which covers the test sample only, "
        "not the variability of training the network.\n\n"
    )
    published = ref.get("fashion_mnist", {})
    if any(r["dataset"] == "fashion_mnist" for r in rows) and published:
        notes += (
            "Published Fashion-MNIST results on the full 60k training set (zalandoresearch README; not ours, "
            "one number each): " + ", ".join(f"{k} {v:.3f}" for k, v in published.items()) + ".\n\n"
        )
    write_markdown(out_md, [("About", notes)] + sections, title="Small datasets: learned vs engineered features")
    return rows
