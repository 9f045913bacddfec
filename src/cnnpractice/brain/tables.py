"""The brain study's tables: alignment QC, detection metrics, ranked atlas regions.

* ``qc.md`` -- correlation with the template before/after alignment, exclusions.
* ``metrics.{csv,md}`` -- subject-level accuracy, AUC, TPR, FPR as mean (std) over the
  cross-validation folds (std with ddof=1, the sample standard deviation over folds), one
  row per slice configuration plus the linear-SVM baseline, the talk's numbers beside.
* the literature flag of a region name (:func:`known_ad`); ``regions.{csv,md}`` are
  :mod:`.ranking`'s.

:func:`tabulate_metrics` reads the rule's inputs and writes ``metrics.{csv,md}``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cnnpractice import stats
from cnnpractice.reference import load_reference
from cnnpractice.tables import markdown_table, write_csv, write_markdown

log = logging.getLogger("cnnpractice.brain")

METRICS = ("acc", "auc", "tpr", "fpr")
# Regions where the Alzheimer's literature locates the disease (the talk's "*"), as
# case-insensitive patterns over atlas region names (AAL's Hippocampus_L, Harvard-Oxford's
# "Left Hippocampus", "Frontal Pole", "Temporal Pole", ...).
KNOWN_AD_PATTERNS = ("hippocamp", "amygdala", "frontal", "temporal")


def cell(mean: float, std: float) -> str:
    """``0.825 (0.061)``, the talk's format."""
    return "–" if mean != mean else f"{mean:.3f} ({std:.3f})"


def _numbers(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    out = []
    for r in rows:
        try:
            value = float(r.get(key, ""))
        except (TypeError, ValueError):
            continue
        if value == value:
            out.append(value)
    return out


def qc_summary_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per alignment step: correlation with the template and residual misalignment
    (mean over the aligned subjects with a t interval), from no transform (the null row) to
    the true transform (the ceiling; synthetic cohorts only)."""
    from cnnpractice import stats

    steps = [
        ("no transform (regridded only)", "corr_before", None),
        ("affine", "corr_affine", "error_affine_mm"),
        ("affine + nonlinear", "corr_nonlinear", "error_nonlinear_mm"),
        ("true transform (ceiling)", "corr_true", None),
    ]
    out = []
    for name, corr, error in steps:
        values = _numbers(rows, corr)
        if not values:
            continue
        errors = _numbers(rows, error) if error else []
        out.append(
            {
                "step": name,
                "correlation": stats.cell(stats.mean_ci(values)),
                "residual (mm)": stats.cell(stats.mean_ci(errors), digits=2)
                if errors
                else ("0" if "true" in name else "–"),
            }
        )
    return out


def per_class_counts(rows) -> dict[str, dict[str, int]]:
    """``{group: {"subjects", "included", "excluded"}}`` of QC rows (``group``, ``included``):
    an exclusion rule that drops atrophic brains biases the study, so the table shows it."""
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        entry = out.setdefault(str(row["group"]), {"subjects": 0, "included": 0, "excluded": 0})
        entry["subjects"] += 1
        entry["included" if row["included"] else "excluded"] += 1
    return out


def _not_measured(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[dict[str, Any]]:
    """``rows`` with "–" for what was not measured (no nonlinear step, no true transform on
    OASIS, a subject that failed to align): empty, None or NaN; never an empty table cell."""

    def shown(value: Any) -> Any:
        missing = value is None or str(value).strip().lower() in ("", "nan")
        return "–" if missing else value

    return [{c: shown(r.get(c)) for c in columns} for r in rows]


def write_qc_markdown(path: str | Path, rows: Sequence[Mapping[str, Any]], min_correlation: float) -> None:
    """Alignment QC report: each step's correlation and residual misalignment, exclusions
    counted per class, and every subject's numbers."""

    excluded = [r for r in rows if not r["included"]]
    failed = sum(not _numbers([r], "corr_after") for r in rows)
    counts = per_class_counts(rows)
    summary = (
        f"{len(rows)} subjects; Pearson correlation with the template over the brain mask, and the mean "
        f"distance (mm) over the brain between where the estimated and the true transform take each "
        f"template voxel from (synthetic cohorts). Mean [95 % t interval] n = subjects; {failed} failed "
        f"to align. Threshold `brain.alignment.min_correlation` = {min_correlation} on the last step: "
        f"{len(excluded)} excluded.\n\n"
        + markdown_table(qc_summary_rows(rows), ["step", "correlation", "residual (mm)"])
        + "\n"
        + markdown_table(
            [{"class": k, **v} for k, v in sorted(counts.items())], ["class", "subjects", "included", "excluded"]
        )
    )
    sections = [("Summary", summary)]
    if excluded:
        excluded_columns = ["subject", "group", "corr_after", "reason"]
        sections.append(("Excluded", markdown_table(_not_measured(excluded, excluded_columns), excluded_columns)))
    columns = ["subject", "group", "method", "corr_before", "corr_affine", "corr_nonlinear", "corr_true"]
    columns += ["error_affine_mm", "error_nonlinear_mm", "seconds", "included"]
    sections.append(("Subjects", markdown_table(_not_measured(rows, columns), columns)))
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
    """One row per input configuration (and the SVM): every metric as a mean over folds with
    its t interval (:func:`cnnpractice.stats.mean_ci`), the accuracy pooled over every test
    subject with its Wilson interval (cross-validation tests each subject once), the talk's
    numbers (``implementation``, mean and std as it printed them) for the configuration's
    ``talk_row``; and a last row, chance: the majority class of the tested subjects (``ref``:
    the loaded reference numbers; default the packaged ones)."""
    talk = (ref or load_reference("brain"))["alzheimer_oasis"][implementation]
    rows = []
    labels: list[int] = []
    for name, paths in folds_by_input.items():
        spec = inputs[name]
        folds = _fold_metrics(paths)
        row: dict[str, Any] = {"input": name, "model": "cnn", "view": _view(spec), "folds": len(folds)}
        row["talk_row"] = spec.get("talk_row")
        _fill(row, folds)
        for m in METRICS:
            printed = talk.get(spec.get("talk_row") or "", {}).get(m)
            row[f"talk_{m}_mean"], row[f"talk_{m}_std"] = printed if printed else (None, None)
        rows.append(row)
        if not labels:
            labels = [int(v) for f in folds for v in f.get("labels", [])]
    if svm_json:
        svm = json.loads(Path(svm_json).read_text())
        row = {"input": "voxels", "model": "linear_svm", "view": f"aligned voxels ({svm['features']} features)"}
        row["folds"] = len(svm["folds"])
        _fill(row, svm["folds"])
        rows.append(row)
    if labels:
        rows.append({"input": "chance", "model": "majority class", "view": "–", "acc": stats.chance_accuracy(labels)})
    return rows


def _view(spec: Mapping[str, Any]) -> str:
    lo, hi = spec["range_mm"]
    hemi = spec.get("hemisphere", "both")
    return f"{spec['axis']} {lo:g}..{hi:g} mm, step {spec.get('step', 1)}" + ("" if hemi == "both" else f", {hemi}")


def _fill(row: dict[str, Any], folds: Sequence[Mapping[str, Any]]) -> None:
    """Mean over folds of every metric (``<m>_folds``) and the pooled subject accuracy."""
    for m in METRICS:
        values = [f[m] for f in folds if f[m] == f[m]]
        row[f"{m}_folds"] = stats.mean_ci(values) if values else None
    correct = sum(int(round(f["acc"] * f["subjects"])) for f in folds)
    row["acc"] = stats.proportion_ci(correct, sum(int(f["subjects"]) for f in folds))


def write_metrics(
    rows: Sequence[Mapping[str, Any]],
    csv_path: str | Path,
    md_path: str | Path,
    cohort: str,
    implementation: str = "torch",
    ref: Mapping[str, Any] | None = None,
) -> None:
    """``metrics.csv`` (every number with its interval and n) and ``metrics.md`` (our table
    with its chance row, the talk's beside, peers)."""
    keys = ["acc"] + [f"{m}_folds" for m in METRICS]
    columns = ["input", "model", "view", "folds", "talk_row"] + [c for k in keys for c in stats.columns(k)]
    columns += [f"talk_{m}_{s}" for m in METRICS for s in ("mean", "std")]
    write_csv(
        csv_path, [{**r, **{c: v for k in keys for c, v in stats.flatten(k, r.get(k)).items()}} for r in rows], columns
    )
    ours = [
        {
            "input": r["input"],
            "model": r["model"],
            "view": r["view"],
            "accuracy (subjects)": stats.cell(r.get("acc")),
            **{f"{m} (folds)": stats.cell(r.get(f"{m}_folds")) for m in METRICS},
            "talk": r.get("talk_row") or "–",
            **{
                f"talk {m}": cell(r.get(f"talk_{m}_mean"), r.get(f"talk_{m}_std"))
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
    note = (
        "Accuracy (subjects): every subject is tested once across the folds; correct / subjects with a Wilson "
        "interval. (folds): mean over the folds with a t interval, n = folds. Chance: always the majority "
        "class of the tested subjects. The talk printed mean (std) over its folds.\n\n"
    )
    write_markdown(
        md_path,
        [
            (
                f"Ours ({cohort}; subject level)",
                note
                + markdown_table(
                    ours,
                    ["input", "model", "view", "accuracy (subjects)", *[f"{m} (folds)" for m in METRICS], "talk"]
                    + [f"talk {m}" for m in METRICS],
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
    log.info("metrics: %s", [(r["input"], r["model"]) for r in rows])
    return rows
