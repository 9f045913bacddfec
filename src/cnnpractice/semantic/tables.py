"""The semantic study's tables: the induced taxonomy of one layer, and the layers' scores.

``taxonomy.{csv,md}`` (one layer): one row per k, the named clusters in WordNet
order (like the talk's table "induced concept hierarchy"), the mean F1 of the
names (of the one network shown) beside their random-partition null (the same naming of
random partitions with the observed cluster sizes: mean, central 95 % range, p), and for
ImageNet models the talk's names for the same k beside ours.
``clusters.csv``: one row per (k, cluster) with the coverage behind each name.
The layers' table is :mod:`.layer_table`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cnnpractice import stats
from cnnpractice.tables import markdown_table, write_csv, write_markdown

CLUSTER_COLUMNS = (
    "k",
    "position",
    "label",
    "name",
    "synset",
    "qualifier",
    "f1",
    "precision",
    "recall",
    "n_classes",
    "n_covered",
    "n_under",
    "equivalent",
    "members",
)
MAX_MEMBERS_SHOWN = 12


def _bare(name: str) -> str:
    """'Artifact (clothing)' -> 'artifact'."""
    return re.sub(r"\s*\(.*?\)", "", name).strip().lower()


def talk_matches(talk_names: Sequence[str], clusters: Sequence[dict[str, Any]]) -> int:
    """How many of the talk's cluster names (qualifiers dropped) name one of ours, counting
    equally-covering synonyms (e.g. the talk's "Living thing" matches our "Organism" when
    both cover the same classes)."""
    ours = {c["name"].lower() for c in clusters} | {e.lower() for c in clusters for e in c["equivalent"]}
    return sum(_bare(name) in ours for name in talk_names)


def taxonomy_rows(
    by_k: dict[int, list[dict[str, Any]]],
    talk: dict[int, list[str]] | None,
    k_max: int,
    null_k: Mapping[int, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """Wide rows: k, cluster_1..cluster_<k_max> (labels), mean_f1, talk, talk_found; with
    ``null_k`` (k -> the naming F1 of random partitions with this k's cluster sizes) also
    the null's mean and central 95 % range (n = draws), the observed F1's percentile and p."""
    from cnnpractice.semantic.evaluate import null_summary

    rows = []
    for k, clusters in sorted(by_k.items()):
        row: dict[str, Any] = {"k": k, "mean_f1": sum(c["f1"] for c in clusters) / len(clusters)}
        if null_k is not None:
            summary = null_summary(row["mean_f1"], np.asarray(null_k[k]))
            row |= stats.flatten("f1_null", summary["null"]) | {
                "f1_percentile": summary["percentile"],
                "f1_p": summary["p"],
                "null_cell": stats.cell(summary["null"], 2) + f", p {summary['p']:.3g}",
            }
        for c in clusters:
            row[f"cluster_{c['position']}"] = c["label"]
        names = (talk or {}).get(k)
        if names:
            row["talk"] = "; ".join(names)
            row["talk_found"] = f"{talk_matches(names, clusters)}/{len(names)}"
        rows.append(row)
    return rows


def cluster_rows(by_k: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Long rows, one per (k, cluster), lists joined with '; '."""
    return [
        {**c, "k": k, "equivalent": "; ".join(c["equivalent"]), "members": "; ".join(c["members"])}
        for k, clusters in sorted(by_k.items())
        for c in clusters
    ]


def _members(names: Sequence[str]) -> str:
    shown = ", ".join(names[:MAX_MEMBERS_SHOWN])
    return shown + (f", ... ({len(names) - MAX_MEMBERS_SHOWN} more)" if len(names) > MAX_MEMBERS_SHOWN else "")


def write_taxonomy(
    *,
    by_k: dict[int, list[dict[str, Any]]],
    talk: dict[int, list[str]] | None,
    out_csv,
    out_md,
    out_clusters,
    title: str,
    notes: Sequence[str] = (),
    null_k: Mapping[int, np.ndarray] | None = None,
) -> list[dict]:
    """Write taxonomy.csv (wide), taxonomy.md and clusters.csv (long); return the wide rows.
    ``null_k``: the shown network's random-partition null per k (a column per table)."""
    k_max = max(by_k)
    rows = taxonomy_rows(by_k, talk, k_max, null_k)
    columns = ["k", *(f"cluster_{i}" for i in range(1, k_max + 1)), "mean_f1"]
    if null_k is not None:
        columns += [*stats.columns("f1_null"), "f1_percentile", "f1_p"]
    if any("talk" in r for r in rows):
        columns += ["talk", "talk_found"]
    write_csv(out_csv, rows, columns)
    write_csv(out_clusters, cluster_rows(by_k), CLUSTER_COLUMNS)
    headers = ["k", *(str(i) for i in range(1, k_max + 1)), "mean F1 (one network)"]
    md_columns = [c for c in columns if not c.startswith("f1_")]
    if null_k is not None:
        md_columns.insert(md_columns.index("mean_f1") + 1, "null_cell")
        headers.append("null F1 [95 % range] draws, p")
    if "talk" in columns:
        headers += ["the talk", "talk's names found"]
    details = []
    for k, clusters in sorted(by_k.items()):
        details.append(
            f"**k = {k}**\n\n"
            + markdown_table(
                [
                    {**c, "members": _members(c["members"]), "equivalent": ", ".join(c["equivalent"]) or None}
                    for c in clusters
                ],
                [
                    "position",
                    "label",
                    "synset",
                    "f1",
                    "precision",
                    "recall",
                    "n_covered",
                    "n_classes",
                    "n_under",
                    "equivalent",
                    "members",
                ],
                [
                    "#",
                    "name",
                    "synset",
                    "F1",
                    "precision",
                    "recall",
                    "covered",
                    "in cluster",
                    "under name",
                    "same coverage",
                    "classes",
                ],
                digits=2,
            )
        )
    intro = "".join(f"{note}\n\n" for note in notes)
    write_markdown(
        out_md,
        [
            (
                "Induced taxonomy",
                intro + "Named clusters per k, in WordNet order; a name in parentheses "
                "is the cluster's main narrower group, shown when the name does not fit exactly (F1 < 1).\n\n"
                + markdown_table(rows, md_columns, headers, digits=2),
            ),
            (
                "Coverage of each name",
                "precision = covered / under name, recall = covered / in cluster.\n\n" + "\n".join(details),
            ),
        ],
        title=title,
    )
    return rows
