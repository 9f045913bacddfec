"""Paired comparisons of the time-series study: two (model, image) configurations trained
with the same seeds on the same dataset (repeat r of every model shares its seed, hence
its validation split and shuffling seed), compared by :func:`cnnpractice.stats.paired`.

Families (the Benjamini-Hochberg ``q`` is computed within a family, over its datasets):

* ``primary`` -- the image CNN with the image type chosen on validation vs the same-protocol
  FCN and ResNet (the test of whether the 1D -> 2D images help);
* ``lstm`` -- the windowed LSTM vs the talk's one-value-per-step LSTM;
* ``rp`` -- Eckmann's thresholded recurrence plot vs the distance plot, both under the CNN;
* ``exploratory`` -- every other image type vs the FCN and ResNet.

Each family also gets a ``pooled`` row per pair: the paired test over every (dataset, seed)
pair at once (datasets differ, so read it as a summary, not as more seeds).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cnnpractice.stats import fdr, paired

POOLED = "all (pooled)"
BASELINES = ("fcn/raw", "resnet/raw")


def comparison_pairs(configs: Sequence[str], selected_image: str | None) -> list[tuple[str, str, str]]:
    """(family, a, b) of the comparisons possible among ``configs`` (``model/image`` names)."""
    present = set(configs)
    pairs = []
    if selected_image:
        chosen = f"cnn/{selected_image}"
        pairs += [("primary", chosen, b) for b in BASELINES if chosen in present and b in present]
    if {"lstm/raw", "lstm_step/raw"} <= present:
        pairs.append(("lstm", "lstm/raw", "lstm_step/raw"))
    if {"cnn/rp_binary", "cnn/rp"} <= present:
        pairs.append(("rp", "cnn/rp_binary", "cnn/rp"))
    others = sorted(c for c in present if c.startswith("cnn/") and c != f"cnn/{selected_image}")
    pairs += [("exploratory", a, b) for a in others for b in BASELINES if b in present]
    return pairs


def paired_rows(runs: Sequence[dict[str, Any]], selected_image: str | None) -> list[dict[str, Any]]:
    """Every comparison of :func:`comparison_pairs`, per dataset and pooled.

    ``runs`` are per-run rows with ``dataset``, ``model``, ``image``, ``seed`` and
    ``test_accuracy``. Runs pair up by seed; a seed one side lacks is left out (``n``
    says how many pairs remain).
    """
    acc: dict[tuple[str, str], dict[int, float]] = {}
    for r in runs:
        acc.setdefault((r["dataset"], f"{r['model']}/{r['image']}"), {})[int(r["seed"])] = float(r["test_accuracy"])
    datasets = sorted({d for d, _ in acc})
    configs = sorted({c for _, c in acc})
    rows = []
    for family, a, b in comparison_pairs(configs, selected_image):
        pooled_a, pooled_b = [], []
        for dataset in datasets:
            left, right = acc.get((dataset, a), {}), acc.get((dataset, b), {})
            seeds = sorted(set(left) & set(right))
            if not seeds:
                continue
            xa, xb = [left[s] for s in seeds], [right[s] for s in seeds]
            pooled_a += xa
            pooled_b += xb
            rows.append(_row(family, dataset, a, b, xa, xb))
        if len({r["dataset"] for r in rows if (r["family"], r["a"], r["b"]) == (family, a, b)}) > 1:
            rows.append(_row(family, POOLED, a, b, pooled_a, pooled_b))
    _add_fdr(rows)
    return rows


def _row(family: str, dataset: str, a: str, b: str, xa: list[float], xb: list[float]) -> dict[str, Any]:
    test = paired(xa, xb)
    return {
        "family": family,
        "dataset": dataset,
        "a": a,
        "b": b,
        "a_mean": float(np.mean(xa)),
        "b_mean": float(np.mean(xb)),
        **test,
    }


def _add_fdr(rows: list[dict[str, Any]]) -> None:
    """``q``: Benjamini-Hochberg over the per-dataset paired t-test p-values of a family
    (pooled rows and NaN p-values are left out and get None)."""
    for family in {r["family"] for r in rows}:
        members = [
            r for r in rows if r["family"] == family and r["dataset"] != POOLED and not np.isnan(r.get("p_t", np.nan))
        ]
        for row, q in zip(members, fdr([r["p_t"] for r in members])):
            row["q"] = float(q)
    for row in rows:
        row.setdefault("q", None)
