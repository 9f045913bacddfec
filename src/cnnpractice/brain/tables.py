"""The brain study's tables: alignment QC, detection metrics, ranked atlas regions.

* ``qc.md`` -- correlation with the template before/after alignment, exclusions.
* ``metrics.{csv,md}`` -- subject-level accuracy, AUC, TPR, FPR as mean (std) over the
  cross-validation folds (std with ddof=1, the sample standard deviation over folds), one
  row per slice configuration plus the linear-SVM baseline, the talk's numbers beside.
* ``regions.{csv,md}`` -- atlas regions ranked by the dBMS of filter A's differential
  model, with the literature flag, the planted ground truth (synthetic cohort) and the
  talk's Table 7 beside.

:func:`tabulate_metrics` and :func:`tabulate_regions` read the rules' inputs and write both.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.reference import load_reference
from cnnpractice.tables import markdown_table, write_csv, write_markdown

log = logging.getLogger("cnnpractice.brain")

METRICS = ("acc", "auc", "tpr", "fpr")
# Regions where the Alzheimer's literature locates the disease (the talk's "*"), as
# case-insensitive patterns over atlas region names (AAL's Hippocampus_L, Harvard-Oxford's
# "Left Hippocampus", "Frontal Pole", "Temporal Pole", ...).
KNOWN_AD_PATTERNS = ("hippocamp", "amygdala", "frontal", "temporal")


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for one value), NaNs ignored."""
    v = np.asarray([x for x in values if x == x], dtype=float)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def cell(mean: float, std: float) -> str:
    """``0.825 (0.061)``, the talk's format."""
    return "–" if mean != mean else f"{mean:.3f} ({std:.3f})"


def write_qc_markdown(path: str | Path, rows: Sequence[Mapping[str, Any]], min_correlation: float) -> None:
    """Alignment QC report: summary, exclusions, and every subject's correlations."""
    before = [float(r["corr_before"]) for r in rows]
    after = [float(r["corr_after"]) for r in rows]
    excluded = [r for r in rows if not r["included"]]
    failed = sum(a != a for a in after)
    summary = (
        f"{len(rows)} subjects; correlation with the template over the brain mask, mean "
        f"{np.nanmean(before):.3f} before and {np.nanmean(after):.3f} after alignment "
        f"(min after {np.nanmin(after):.3f}; {failed} failed to align). Threshold "
        f"`brain.alignment.min_correlation` = {min_correlation}: {len(excluded)} excluded.\n\n"
    )
    sections = [("Summary", summary)]
    if excluded:
        sections.append(("Excluded", markdown_table(excluded, ["subject", "group", "corr_after", "reason"])))
    sections.append(
        (
            "Subjects",
            markdown_table(rows, ["subject", "group", "method", "corr_before", "corr_after", "seconds", "included"]),
        )
    )
    write_markdown(path, sections, title="Brain alignment QC")


def _fold_metrics(paths: Sequence[str | Path]) -> list[dict[str, float]]:
    return [json.loads(Path(p).read_text()) for p in paths]


def metrics_rows(
    folds_by_input: Mapping[str, Sequence[str | Path]],
    inputs: Mapping[str, Mapping[str, Any]],
    svm_json: str | Path | None,
    implementation: str = "torch",
    ref: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One row per input configuration (and the SVM): mean/std of each metric over folds,
    and the talk's numbers (``implementation``) for the configuration's ``talk_row``
    (``ref``: the loaded reference numbers; default the packaged ones)."""
    talk = (ref or load_reference("brain"))["alzheimer_oasis"][implementation]
    rows = []
    for name, paths in folds_by_input.items():
        spec = inputs[name]
        folds = _fold_metrics(paths)
        row: dict[str, Any] = {
            "input": name,
            "model": "cnn",
            "view": _view(spec),
            "folds": len(folds),
            "talk_row": spec.get("talk_row"),
        }
        rows.append(row)
        _fill(row, folds)
        for m in METRICS:
            ref = talk.get(spec.get("talk_row") or "", {}).get(m)
            row[f"talk_{m}_mean"], row[f"talk_{m}_std"] = ref if ref else (None, None)
    if svm_json:
        svm = json.loads(Path(svm_json).read_text())
        row = {
            "input": "voxels",
            "model": "linear_svm",
            "view": f"aligned voxels ({svm['features']} features)",
            "folds": len(svm["folds"]),
        }
        _fill(row, svm["folds"])
        rows.append(row)
    return rows


def _view(spec: Mapping[str, Any]) -> str:
    lo, hi = spec["range_mm"]
    hemi = spec.get("hemisphere", "both")
    return f"{spec['axis']} {lo:g}..{hi:g} mm, step {spec.get('step', 1)}" + ("" if hemi == "both" else f", {hemi}")


def _fill(row: dict[str, Any], folds: Sequence[Mapping[str, float]]) -> None:
    for m in METRICS:
        row[f"{m}_mean"], row[f"{m}_std"] = mean_std([f[m] for f in folds])


def write_metrics(
    rows: Sequence[Mapping[str, Any]],
    csv_path: str | Path,
    md_path: str | Path,
    cohort: str,
    implementation: str = "torch",
    ref: Mapping[str, Any] | None = None,
) -> None:
    """``metrics.csv`` (numbers) and ``metrics.md`` (our table, the talk's beside, peers)."""
    columns = ["input", "model", "view", "folds", "talk_row"] + [
        f"{p}{m}_{s}" for p in ("", "talk_") for m in METRICS for s in ("mean", "std")
    ]
    write_csv(csv_path, rows, columns)
    ours = [
        {
            "input": r["input"],
            "model": r["model"],
            "view": r["view"],
            "folds": r["folds"],
            **{m: cell(r[f"{m}_mean"], r[f"{m}_std"]) for m in METRICS},
            "talk": r.get("talk_row") or "–",
            **{
                f"talk {m}": cell(*(r.get(f"talk_{m}_mean"), r.get(f"talk_{m}_std")))
                if r.get(f"talk_{m}_mean") is not None
                else "–"
                for m in METRICS
            },
        }
        for r in rows
    ]
    ref = ref or load_reference("brain")
    talk_rows = [
        {"implementation": impl, "input": name, **{m: cell(*vals[m]) for m in METRICS}}
        for impl, table in ref["alzheimer_oasis"].items()
        for name, vals in table.items()
    ]
    peers = "\n".join(f"- {k}: {v}" for k, v in ref["peers"].items())
    write_markdown(
        md_path,
        [
            (
                f"Ours ({cohort}; subject level, mean (std) over folds)",
                markdown_table(
                    ours, ["input", "model", "view", "folds", *METRICS, "talk", *[f"talk {m}" for m in METRICS]]
                ),
            ),
            (
                "The talk (OASIS, CDR 0 vs CDR 1; three implementations of one CNN)",
                markdown_table(talk_rows, ["implementation", "input", *METRICS]),
            ),
            ("Peers (OASIS-1, subject-level splits)", peers + "\n"),
        ],
        title="Alzheimer's detection: subject-level metrics",
    )


def known_ad(region: str, patterns: Sequence[str] = KNOWN_AD_PATTERNS) -> bool:
    """Whether an atlas region name matches one of the literature's Alzheimer's locations."""
    return any(re.search(p, region, flags=re.IGNORECASE) for p in patterns)


def _read_csv(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def region_rows(
    fold_regions: Sequence[str | Path],
    selected: int,
    planted: Sequence[str] | None,
    patterns: Sequence[str] = KNOWN_AD_PATTERNS,
    top: int = 5,
    untrained: str | Path | None = None,
) -> list[dict[str, Any]]:
    """The selected fold's ranking, with each region's rank in every fold summarised
    (mean rank, folds in which it is in the top ``top``), its rank under the untrained
    baseline of the same fold (``untrained``: that fold's ``regions_untrained.csv``) and
    the flags."""
    per_fold = [_read_csv(p) for p in fold_regions]
    ranks = [{r["region"]: int(r["rank"]) for r in rows} for rows in per_fold]
    base = {r["region"]: int(r["rank"]) for r in _read_csv(untrained)} if untrained else {}
    out = []
    for r in per_fold[selected]:
        name = r["region"]
        fold_ranks = [rk[name] for rk in ranks if name in rk]
        out.append(
            {
                "rank": int(r["rank"]),
                "region": name,
                "dbms": float(r["dbms"]),
                "n_voxels": int(r["n_voxels"]),
                "mean_rank": float(np.mean(fold_ranks)),
                f"top{top}_folds": sum(k <= top for k in fold_ranks),
                "untrained_rank": base.get(name),
                "known_ad": known_ad(name, patterns),
                "planted": (name in planted) if planted is not None else None,
            }
        )
    return out


def write_regions(
    rows: Sequence[Mapping[str, Any]],
    csv_path: str | Path,
    md_path: str | Path,
    *,
    selected: int,
    n_folds: int,
    filter_a: int,
    planted: Sequence[str] | None,
    top: int = 5,
    show: int = 20,
    dbms_a: float | None = None,
    untrained: Mapping[str, Any] | None = None,
    ref: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``regions.csv`` (every region) and ``regions.md`` (the top ``show``, the planted-region
    check, the talk's Table 7 beside). Returns the check's numbers."""
    top_col = f"top{top}_folds"
    write_csv(
        csv_path,
        rows,
        ["rank", "region", "dbms", "n_voxels", "mean_rank", top_col, "untrained_rank", "known_ad", "planted"],
    )
    shown = [
        {
            **r,
            "region": r["region"] + (" *" if r["known_ad"] else ""),
            "planted": {True: "yes", False: "", None: "–"}[r["planted"]],
        }
        for r in rows[:show]
    ]
    check: dict[str, Any] = {}
    text = (
        f"Fold {selected} of {n_folds} (config `brain.interpret.fold`), filter A = filter {filter_a}. "
        f"`mean_rank` and `{top_col}` summarise the same ranking from every fold's model. "
        f"* = a location of Alzheimer's in the literature.\n\n"
    )
    if planted is not None:
        planted_ranks = {r["region"]: r["rank"] for r in rows if r["planted"]}
        check = {
            "planted_ranks": planted_ranks,
            "all_planted_in_top": all(v <= top for v in planted_ranks.values()) and len(planted_ranks) == len(planted),
        }
        text += (
            f"Planted regions (synthetic ground truth) and their ranks: {planted_ranks}; all in the top {top}: "
            f"**{'yes' if check['all_planted_in_top'] else 'no'}**.\n\n"
        )
    if untrained:
        text += (
            f"Baseline: the same network untrained (seeded initialisation), same slices: its filter A "
            f"(filter {untrained['filter_a']}) has brain dBMS {untrained['dbms_filter_a']:.3f} against "
            f"{dbms_a:.3f} trained; its top {top}: {', '.join(untrained['top_regions'][:top])} "
            f"(`untrained_rank`). Class-mean first-layer maps largely follow the class-mean images, so "
            f"the ranking shows where the classes differ; what training adds is read against this row.\n\n"
        )
    talk = [
        {**t, "region": t["region"] + (" *" if t.get("known_ad") else "")}
        for t in (ref or load_reference("brain"))["brain_substructures_dbms"]
    ]
    write_markdown(
        md_path,
        [
            (
                "Ours",
                text
                + markdown_table(
                    shown, ["rank", "region", "dbms", "n_voxels", "mean_rank", top_col, "untrained_rank", "planted"]
                ),
            ),
            ("The talk's Table 7 (Harvard-Oxford, OASIS)", markdown_table(talk, ["rank", "region", "dbms"], digits=1)),
        ],
        title="Brain substructures ranked by dBMS of filter A",
    )
    return check


def tabulate_metrics(
    *,
    fold_jsons: Sequence[str | Path],
    inputs: Mapping[str, Mapping[str, Any]],
    svm_json: str | Path | None,
    csv_path: str | Path,
    md_path: str | Path,
    source: str,
    reference: str | Path | None = None,
) -> list[dict[str, Any]]:
    """``metrics.{csv,md}`` from every fold's ``fold.json`` (grouped by the configuration
    directory they sit in) and the SVM's folds; the talk's numbers from ``reference`` (the
    rule's declared input; default the packaged file)."""
    ref = load_reference("brain", reference)
    by_input: dict[str, list[str]] = {name: [] for name in inputs}
    for path in fold_jsons:
        by_input[Path(path).parent.parent.name].append(str(path))
    rows = metrics_rows(by_input, inputs, svm_json, ref=ref)
    write_metrics(rows, csv_path, md_path, cohort="synthetic cohort" if source == "synthetic" else "OASIS-1", ref=ref)
    return rows


def tabulate_regions(
    *,
    regions: Sequence[str | Path],
    untrained: Sequence[str | Path],
    summaries: Sequence[str | Path],
    cohort_json: str | Path,
    fold: int,
    top: int,
    csv_path: str | Path,
    md_path: str | Path,
    reference: str | Path | None = None,
) -> dict[str, Any]:
    """``regions.{csv,md}``: fold ``fold``'s ranking, every fold's ranks summarised, the same
    fold's untrained-network baseline beside, the planted regions checked when the cohort is
    synthetic; the talk's Table 7 from ``reference`` (the rule's declared input)."""
    ref = load_reference("brain", reference)
    cohort = json.loads(Path(cohort_json).read_text())
    planted = sorted(cohort["planted_regions"]) if cohort.get("source") == "synthetic" else None
    summary = json.loads(Path(summaries[fold]).read_text())
    rows = region_rows(regions, fold, planted, top=top, untrained=untrained[fold])
    check = write_regions(
        rows,
        csv_path,
        md_path,
        selected=fold,
        n_folds=len(regions),
        filter_a=int(summary["filter_a"]),
        planted=planted,
        top=top,
        dbms_a=float(summary["dbms"][int(summary["filter_a"])]),
        untrained=summary.get("untrained"),
        ref=ref,
    )
    log.info(f"regions: top {[r['region'] for r in rows[:top]]}; {check}")
    return check
