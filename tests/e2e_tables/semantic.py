"""The semantic layer tables recomputed from each layer's per-network scores."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import stats as sps

from e2e_tables.common import num, read_csv, same, same_summary, t_interval


def _bh(pvalues: Sequence[float]) -> np.ndarray:
    return sps.false_discovery_control(np.asarray(pvalues, dtype=float), method="bh")


def check_semantic_tables(wf: Path, model: str, seeds: Sequence[int]) -> None:
    """``layers.csv`` and ``layers_k.csv`` from each layer's per-network scores (one trained
    and one untrained network per seed): means over the networks with t intervals, the
    Benjamini-Hochberg q over the layers, the paired trained - untrained rows; each network's
    F1 at the first k from the shown network's named clusters; a trained layer's naming F1
    above its random-partition null."""
    rows = read_csv(wf / "results/semantic/layers.csv")
    k_rows = read_csv(wf / "results/semantic/layers_k.csv")
    layers = list(dict.fromkeys(r["layer"] for r in rows if r["model"] == model))
    scores = {layer: json.loads((wf / f"results/semantic/{model}/{layer}/scores.json").read_text()) for layer in layers}
    table = {(r["network"], r["layer"]): r for r in rows if r["model"] == model}
    per_group: dict[str, list[tuple[str, dict]]] = {}
    for layer, s in scores.items():
        networks = {g: [n for n in s["networks"] if n["group"] == g] for g in ("trained", "untrained")}
        for group, members in networks.items():
            assert sorted(n["seed"] for n in members) == sorted(seeds), f"{layer} {group}: seeds of the networks"
            where = f"layers.csv {group} {layer}"
            for n in members:
                same(str(n["mean_f1"]), float(np.mean(list(n["mean_f1_per_k"].values()))), f"{where} {n['name']}")
            row = table[(group, layer)]
            same_summary(row, "mean_f1", t_interval([n["mean_f1"] for n in members]), where)
            same_summary(row, "rank_correlation", t_interval([n["rank_correlation"] for n in members]), where)
            g = s["groups"][group]
            same(row["f1_p"], g["f1_p"], f"{where} f1_p")
            same(row["mantel_p"], g["mantel"]["p"], f"{where} mantel_p")
            assert (row["n_classes"], row["k_min"], row["k_max"]) == tuple(
                str(s[k]) for k in ("n_classes", "k_min", "k_max")
            )
            per_group.setdefault(group, []).append((layer, row))
            for k in range(s["k_min"], s["k_max"] + 1):
                (k_row,) = [
                    r for r in k_rows if (r["model"], r["network"], r["layer"], r["k"]) == (model, group, layer, str(k))
                ]
                same_summary(
                    k_row, "mean_f1", t_interval([n["mean_f1_per_k"][str(k)] for n in members]), f"{where} k={k}"
                )
        # the shown (first) network's named clusters give its F1 at each k
        clusters = read_csv(wf / f"results/semantic/{model}/{layer}/clusters.csv")
        shown = s["networks"][0]
        for k, value in shown["mean_f1_per_k"].items():
            f1 = [num(c["f1"]) for c in clusters if c["k"] == k]
            assert len(f1) == int(k), f"{layer}: {len(f1)} named clusters at k={k}"
            same(repr(float(np.mean(f1))), value, f"{layer} {shown['name']} F1 at k={k} from clusters.csv")
        # trained - untrained, paired by seed
        by_seed = {(n["group"], n["seed"]): n for n in s["networks"]}
        for key in ("mean_f1", "rank_correlation"):
            diff = [by_seed[("trained", x)][key] - by_seed[("untrained", x)][key] for x in sorted(seeds)]
            same_summary(
                table[("trained - untrained", layer)], key, t_interval(diff), f"layers.csv difference {layer} {key}"
            )
    for group, members in per_group.items():
        q = _bh([num(r["f1_p"]) for _, r in members])
        mantel_q = _bh([num(r["mantel_p"]) for _, r in members])
        for (layer, row), value, m_value in zip(members, q, mantel_q):
            same(row["f1_q"], float(value), f"layers.csv {group} {layer} f1_q")
            same(row["mantel_q"], float(m_value), f"layers.csv {group} {layer} mantel_q")
            assert row["beats_null"] == str(bool(value < 0.05)), f"{group} {layer} beats_null"
    # above chance: the deepest trained layer (fixed beforehand, not picked) names its clusters
    # better than random partitions of the same sizes: q < 0.05 (the study's "beats the null")
    # and its mean F1 above the null's 97.5 % point. Untrained networks pass this too on
    # Fashion-MNIST (pixel similarity follows the hierarchy); shuffled class names would not.
    layer, row = per_group["trained"][-1]
    assert num(row["f1_q"]) < 0.05 and num(row["mean_f1"]) > num(row["f1_null_ci_high"]), (
        f"semantic: trained {layer} does not beat its random-partition null ({row})"
    )
