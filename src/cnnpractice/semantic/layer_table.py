"""Which layers represent WordNet: the layer table, with nulls, intervals and the untrained control.

``layers.{csv,md}``: per model, network group (``trained``, ``untrained``) and layer

* the naming F1 (over k, then over the group's networks) with its t interval and n
  (networks); the random-partition null of that mean (its mean and central 95 % range,
  n = draws), the observed value's percentile and p-value, and the Benjamini-Hochberg q
  over the model's layers; a layer *beats the null* when q < 0.05;
* the rank correlation with WordNet distances (mean over the networks, t interval) and
  the Mantel permutation p-value of the networks' mean distance matrix, with its q;

then per layer the trained - untrained difference of both scores, paired by seed.
``layers_k.csv``: the same F1 test for every k.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cnnpractice import stats
from cnnpractice.tables import markdown_table, write_csv, write_markdown

Q_LEVEL = 0.05
F1, NULL, RHO = stats.columns("mean_f1"), stats.columns("f1_null"), stats.columns("rank_correlation")
LAYER_COLUMNS = (
    "model",
    "network",
    "layer",
    "depth",
    *F1,
    *NULL,
    "f1_percentile",
    "f1_p",
    "f1_q",
    "beats_null",
    *RHO,
    "mantel_r",
    "mantel_p",
    "mantel_q",
    "p_t",
    "p_wilcoxon",
    "k2_split",
    "n_classes",
    "n_features",
    "k_min",
    "k_max",
)
K_COLUMNS = ("model", "network", "layer", "k", *F1, *NULL, "f1_percentile", "f1_p", "f1_q")
DIFFERENCE = "trained - untrained"
ORDER = ("trained", "untrained", DIFFERENCE)


def group_rows(scores: Sequence[Mapping[str, Any]]) -> tuple[list[dict], list[dict]]:
    """Layer rows and per-k rows of every (model, group, layer), q-values over each model's
    layers (per group), then the trained - untrained rows."""
    rows, k_rows, diffs = [], [], []
    for s in scores:
        common = {"model": s["model"], "layer": s["layer"], "depth": s["depth"]}
        for group, g in s["groups"].items():
            rows.append(
                common
                | {"network": group}
                | stats.flatten("mean_f1", g["mean_f1"])
                | stats.flatten("f1_null", g["f1_null"])
                | {"f1_percentile": g["f1_percentile"], "f1_p": g["f1_p"]}
                | stats.flatten("rank_correlation", g["rank_correlation"])
                | {"mantel_r": g["mantel"]["r"], "mantel_p": g["mantel"]["p"]}
                | {"k2_split": "; ".join(s["k2"]) if s.get("k2") else None}
                | {key: s[key] for key in ("n_classes", "n_features", "k_min", "k_max")}
            )
            for k, per in g["per_k"].items():
                k_rows.append(
                    common
                    | {"network": group, "k": int(k)}
                    | stats.flatten("mean_f1", per["f1"])
                    | stats.flatten("f1_null", per["null"])
                    | {"f1_percentile": per["percentile"], "f1_p": per["p"]}
                )
        comparison = s.get("trained_vs_untrained")
        if comparison:
            f1, rho = comparison["mean_f1"], comparison["rank_correlation"]
            diffs.append(
                common
                | {"network": DIFFERENCE}
                | stats.flatten("mean_f1", f1, key="diff")
                | stats.flatten("rank_correlation", rho, key="diff")
                | {"p_t": f1["p_t"], "p_wilcoxon": f1["p_wilcoxon"], "rho_p_t": rho["p_t"]}
            )
    _add_q(rows, "f1_p", "f1_q", ("model", "network"))
    _add_q(rows, "mantel_p", "mantel_q", ("model", "network"))
    _add_q(k_rows, "f1_p", "f1_q", ("model", "network"))
    for row in rows:
        row["beats_null"] = bool(row["f1_q"] < Q_LEVEL)
    return rows + diffs, k_rows


def _add_q(rows: list[dict], p_key: str, q_key: str, by: Sequence[str]) -> None:
    """Benjamini-Hochberg q over the rows sharing the ``by`` values."""
    families: dict[tuple, list[dict]] = {}
    for row in rows:
        families.setdefault(tuple(row[b] for b in by), []).append(row)
    for family in families.values():
        for row, q in zip(family, stats.fdr([r[p_key] for r in family])):
            row[q_key] = float(q)


def _cell(row: Mapping[str, Any], prefix: str, digits: int = 3) -> str:
    name, lo, hi, n = stats.columns(prefix)
    if row.get(name) is None:
        return "–"
    nan = float("nan")
    summary = {
        "mean": row[name],
        "lo": nan if row.get(lo) is None else row[lo],
        "hi": nan if row.get(hi) is None else row[hi],
    }
    return stats.cell(summary | {"n": row.get(n)}, digits)


def _p(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.3g}"


def layer_markdown(rows: Sequence[Mapping[str, Any]], k_rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Markdown sections: one table per model, then the per-k F1 p-values of each group."""
    sections = []
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        table = [
            {
                "network": r["network"],
                "layer": r["layer"],
                "f1": _cell(r, "mean_f1"),
                "null": _cell(r, "f1_null") if r["network"] != DIFFERENCE else "–",
                "f1_p": f"{_p(r.get('f1_p'))} / {_p(r.get('f1_q'))}" if "f1_q" in r else _p(r.get("p_t")),
                "beats": ("yes" if r["beats_null"] else "no") if "beats_null" in r else "–",
                "rho": _cell(r, "rank_correlation"),
                "mantel": f"{_p(r.get('mantel_p'))} / {_p(r.get('mantel_q'))}"
                if "mantel_q" in r
                else _p(r.get("rho_p_t")),
            }
            for r in sorted(mine, key=lambda r: (r["depth"], ORDER.index(r["network"])))
        ]
        sections.append(
            (
                f"{model}",
                markdown_table(
                    table,
                    ["layer", "network", "f1", "null", "f1_p", "beats", "rho", "mantel"],
                    [
                        "layer",
                        "network",
                        "mean F1 [95 % CI] n",
                        "null F1 [95 % range] draws",
                        "F1 p / q (difference: paired t p)",
                        "beats null (q < 0.05)",
                        "rank corr. [95 % CI] n",
                        "Mantel p / q (difference: paired t p)",
                    ],
                ),
            )
        )
        for group in dict.fromkeys(r["network"] for r in k_rows if r["model"] == model):
            per = [r for r in k_rows if r["model"] == model and r["network"] == group]
            ks = sorted({r["k"] for r in per})
            grid: dict[str, dict] = {}
            for r in sorted(per, key=lambda r: r["depth"]):
                entry = grid.setdefault(r["layer"], {"layer": r["layer"]})
                entry[str(r["k"])] = f"{r['mean_f1']:.2f} ({r['f1_percentile']:.0f}%, p {_p(r['f1_p'])})"
            sections.append(
                (
                    f"{model}, {group}: naming F1 per k against the random-partition null",
                    "Cell: mean F1 over the networks (its percentile in the null, p). Rows layers, columns k.\n\n"
                    + markdown_table(list(grid.values()), ["layer", *map(str, ks)], ["layer", *(f"k={k}" for k in ks)]),
                )
            )
    return sections


def write_layers(scores: Sequence[Mapping[str, Any]], out_csv, out_md, out_k_csv) -> list[dict]:
    """Write layers.csv, layers.md and layers_k.csv from the layers' scores (with ``depth``)."""
    rows, k_rows = group_rows(scores)
    write_csv(out_csv, rows, LAYER_COLUMNS)
    write_csv(out_k_csv, k_rows, K_COLUMNS)
    first = scores[0] if scores else {}
    about = (
        "mean F1: the WordNet names' F1 (each cluster named by its best-covering hypernym), averaged over the "
        "clusters of each k, then over k, then over the group's networks (n = networks: trained seeds, or the "
        "untrained initialisations of the same seeds, i.e. the trained networks' starting points). null: the same "
        f"naming of random partitions of the classes with the observed cluster sizes ({first.get('draws')} draws "
        "per network and k), averaged like the observed value; p: share of null draws at least as high (+1 "
        "corrected), q: Benjamini-Hochberg over the model's layers; beats null: q < 0.05. rank corr.: Spearman's "
        "rho between the class vectors' cosine distances and WordNet path lengths, mean over the networks; "
        f"Mantel p: permutation test ({first.get('permutations')} relabellings of the classes) of the networks' "
        "mean distance matrix, the valid p-value for these non-independent class pairs. trained - untrained: "
        "the paired difference (networks paired by seed) with its t interval and paired t-test.\n\n"
    )
    write_markdown(
        out_md,
        [("About", about), *layer_markdown(rows, k_rows)],
        title="Semantic embeddings: which layers represent WordNet",
    )
    return rows
