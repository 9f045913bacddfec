"""``regions.{csv,md}``: three region rankings side by side, each against its permutation null.

For the interpreted fold (config ``brain.interpret.fold``): filter A of the trained network,
filter A of the same architecture untrained, and the mass-univariate voxel t-map
(:mod:`.nulls_run` gives every region's score, rank, permutation p and FDR q for each).
Beside them: how every fold's trained model ranks the region (mean rank with its t
interval over folds, and in how many folds it is in the top ``top``), whether the region was
planted (synthetic cohort), the literature flag, and the talk's Table 7. The null row is the
95th percentile of the *best* region's score under shuffled labels: a score below it is what
noise gives.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice import stats
from cnnpractice.brain.tables import known_ad
from cnnpractice.reference import load_reference
from cnnpractice.tables import markdown_table, write_csv, write_markdown

METHODS = {"trained": "CNN filter A, trained", "untrained": "CNN filter A, untrained", "tmap": "voxel t-map"}


def _read_csv(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _float(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out else None


def region_rows(
    fold_regions: Sequence[str | Path], null_csv: str | Path, planted: Sequence[str] | None, top: int
) -> list[dict[str, Any]]:
    """Every region of the null table, ordered by the trained rank, with every fold's rank of
    it summarised (``mean_rank`` with its t interval over folds, ``top<k>_folds``)."""
    ranks = [{r["region"]: int(r["rank"]) for r in _read_csv(p)} for p in fold_regions]
    out = []
    for row in _read_csv(null_csv):
        name = row["region"]
        fold_ranks = [rk[name] for rk in ranks if name in rk]
        entry: dict[str, Any] = {"region": name}
        for key in METHODS:
            for part in ("score", "p", "q"):
                entry[f"{key}_{part}"] = _float(row.get(f"{key}_{part}"))
            rank = _float(row.get(f"{key}_rank"))
            entry[f"{key}_rank"] = int(rank) if rank is not None else None
        entry["mean_rank"] = stats.mean_ci(fold_ranks) if fold_ranks else None
        entry[f"top{top}_folds"] = sum(k <= top for k in fold_ranks)
        entry["known_ad"] = known_ad(name)
        entry["planted"] = (name in planted) if planted is not None else None
        out.append(entry)
    out.sort(key=lambda r: (r["trained_rank"] is None, r["trained_rank"] or 0, r["tmap_rank"] or 0))
    return out


def planted_check(rows: Sequence[Mapping[str, Any]], planted: Sequence[str], alpha: float) -> dict[str, Any]:
    """Per method: each planted region's rank and q, whether all are significant (q < alpha),
    and how many regions that were not planted are significant."""
    out = {}
    for key in METHODS:
        mine = {r["region"]: (r[f"{key}_rank"], r[f"{key}_q"]) for r in rows if r["planted"]}
        others = sum(1 for r in rows if not r["planted"] and r[f"{key}_q"] is not None and r[f"{key}_q"] < alpha)
        out[key] = {
            "planted": {k: {"rank": v[0], "q": v[1]} for k, v in mine.items()},
            "all_planted_significant": len(mine) == len(planted)
            and all(q is not None and q < alpha for _, q in mine.values()),
            "other_significant": others,
        }
    return out


def write_regions(
    rows: Sequence[Mapping[str, Any]],
    null: Mapping[str, Any],
    csv_path: str | Path,
    md_path: str | Path,
    *,
    selected: int,
    n_folds: int,
    planted: Sequence[str] | None,
    top: int = 5,
    show: int = 20,
    ref: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``regions.csv`` (every region, every number) and ``regions.md`` (the ``show`` best by
    the trained rank plus any planted region below them, the null row, the checks, Table 7).
    Returns the checks."""
    alpha = float(null["alpha"])
    top_col = f"top{top}_folds"
    columns = ["region"] + [f"{k}_{p}" for k in METHODS for p in ("score", "rank", "p", "q")]
    columns += [*stats.columns("mean_rank"), top_col, "known_ad", "planted"]
    write_csv(csv_path, [{**r, **stats.flatten("mean_rank", r["mean_rank"])} for r in rows], columns)

    def fmt_q(q):
        return "–" if q is None else (f"**{q:.3f}**" if q < alpha else f"{q:.3f}")

    shown_rows = [r for i, r in enumerate(rows) if i < show or r["planted"]]
    shown = []
    for r in shown_rows:
        entry = {
            "region": r["region"] + (" *" if r["known_ad"] else ""),
            "planted": {True: "yes", False: "no", None: "–"}[r["planted"]],
        }
        for key in METHODS:
            score = r[f"{key}_score"]
            entry[f"{key} rank"] = r[f"{key}_rank"] if r[f"{key}_rank"] is not None else "–"
            entry[f"{key} score"] = "–" if score is None else f"{score:.3f}"
            entry[f"{key} q"] = fmt_q(r[f"{key}_q"])
        entry["folds: mean rank"] = stats.cell(r["mean_rank"], digits=1)
        entry[top_col] = r[top_col]
        shown.append(entry)
    methods = null["methods"]
    null_row = {"region": "null: 95th pct of the best region's score, shuffled labels", "planted": "–"}
    for key in METHODS:
        null_row[f"{key} score"] = f"{methods[key]['best_null_95']:.3f}"
    shown.append(null_row)
    filters = null["filters"]
    text = (
        f"Fold {selected} of {n_folds} (`brain.interpret.fold`); {null['subjects']} subjects "
        f"({null['per_class'][0]} control, {null['per_class'][1]} impaired). Scores: dBMS of filter A "
        f"(trained: filter {filters['trained']['filter_a']}, untrained: filter {filters['untrained']['filter_a']}) "
        f"inside each region; for the t-map the mean |t| of a voxel-wise two-sample t-test of the aligned "
        f"images (smoothed, FWHM {null['fwhm_mm']:g} mm). p: {null['permutations']} permutations of the "
        f"subject labels, networks and filter A fixed; q: Benjamini-Hochberg over the regions of each "
        f"ranking, **bold** below {alpha}. `folds: mean rank` is the trained filter A's rank of the region "
        f"in every fold's model (mean [95 % t interval] n = folds). * = a location of Alzheimer's in the "
        f"literature.\n\n"
    )
    counts = ", ".join(f"{METHODS[k]} {methods[k]['significant']} of {methods[k]['regions']}" for k in METHODS)
    text += f"Regions significant after FDR: {counts}.\n\n"
    sel = [
        f"{k}: {filters[k]['best_null_95_with_selection']:.3f} ({filters[k]['selection_permutations']} permutations)"
        for k in ("trained", "untrained")
        if filters[k].get("best_null_95_with_selection") is not None
    ]
    if sel:
        text += (
            "Choosing filter A among all filters on the same labels is not in the fixed-filter null; re-choosing "
            f"it in every permutation raises the null row's 95th percentile to {'; '.join(sel)}.\n\n"
        )
    check: dict[str, Any] = {"significant": {k: methods[k]["significant"] for k in METHODS}}
    if planted is not None and not planted:
        text += "Nothing was planted (`brain.synthetic.effect` 0): every significant region is a false positive.\n\n"
    elif planted is not None:
        check |= planted_check(rows, planted, alpha)
        for key in METHODS:
            c = check[key]
            ranks = ", ".join(f"{k} {v['rank']}" for k, v in sorted(c["planted"].items()))
            text += (
                f"- {METHODS[key]}: planted regions ranked {ranks}; all significant: "
                f"**{'yes' if c['all_planted_significant'] else 'no'}**; regions not planted but significant: "
                f"{c['other_significant']}.\n"
            )
        text += "\n"
    header = list(shown[0])
    talk = [
        {**t, "region": t["region"] + (" *" if t.get("known_ad") else "")}
        for t in (ref or load_reference("brain"))["brain_substructures_dbms"]
    ]
    write_markdown(
        md_path,
        [
            ("Ours", text + markdown_table(shown, header)),
            ("The talk's Table 7 (Harvard-Oxford, OASIS)", markdown_table(talk, ["rank", "region", "dbms"], digits=1)),
        ],
        title="Brain substructures: three rankings, each against shuffled labels",
    )
    return check


def tabulate_regions(
    *,
    regions: Sequence[str | Path],
    null_csv: str | Path,
    null_json: str | Path,
    cohort_json: str | Path,
    fold: int,
    top: int,
    csv_path: str | Path,
    md_path: str | Path,
    reference: str | Path | None = None,
) -> dict[str, Any]:
    """``regions.{csv,md}`` from every fold's ``regions.csv`` and the nulls of fold ``fold``;
    the talk's Table 7 from ``reference`` (the rule's declared input; default the packaged file)."""
    cohort = json.loads(Path(cohort_json).read_text())
    planted = sorted(cohort["planted_regions"]) if cohort.get("source") == "synthetic" else None
    if planted is not None and float(cohort.get("effect", 1.0)) == 0:
        planted = []  # the null cohort: nothing was planted, so every significant region is a false positive
    null = json.loads(Path(null_json).read_text())
    rows = region_rows(regions, null_csv, planted, top)
    check = write_regions(
        rows,
        null,
        csv_path,
        md_path,
        selected=fold,
        n_folds=len(regions),
        planted=planted,
        top=top,
        ref=load_reference("brain", reference),
    )
    return check | {"top": [r["region"] for r in rows[:top]], "mean_rank_n": int(np.size(regions))}
