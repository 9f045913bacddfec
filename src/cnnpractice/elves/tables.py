"""Result tables of the elves study (every number with its n and a 95 % interval).

* ``detection.{csv,md}`` (:mod:`~cnnpractice.elves.detection`) - the CNN's precision,
  recall and F1 per class on the held-out events, macro-F1, the chance row and a
  label-permutation null, recall on the hard subsets, the confusion matrix.
* ``reconstruction.{csv,md}`` (rows from :mod:`~cnnpractice.elves.reconstruction`) -
  location error (km between the true and the estimated stroke) and relative peak-current
  error |I_est / I_true - 1|, median and 68 % quantile with bootstrap intervals, per distance
  bin, CNN and timing fit, one eye and stereo, on the held-out elves with nuisances
  ("mismatched": the fit keeps the nominal model) and without ("matched"); paired
  differences that say who wins; the fit's distance/t0 degeneracy; which nuisance hurts; a
  constant-guess null and the published reference floor. A failed fit counts as an error
  worse than any (:data:`~cnnpractice.elves.scores.FAILED`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice import stats
from cnnpractice.elves import reconstruction as rec
from cnnpractice.elves.detection import write_detection
from cnnpractice.elves.scores import failed_cell
from cnnpractice.tables import markdown_table, write_csv, write_markdown

log = logging.getLogger("cnnpractice.elves")

REFERENCES = (
    "Reference floor (published, not ours; no interval): ground lightning networks locate strokes with a "
    "median error of about 3 km (WWLLN; Rodger et al. 2005, as quoted in issue 16, not checked here); the "
    'Auger FD\'s timing reconstruction agrees with them "within a few km" (R. Mussa for the Pierre Auger '
    "Collaboration, ICRC 2019; Pierre Auger Collaboration, Earth and Space Science 7 (2020) e2019EA000582: "
    "100 ns bins and the cameras' own pixels, against our 4 us bins and 2 x 2 pixels in the offline default)."
)
SUMMARY_CSV = (
    "nuisances",
    "eyes",
    "method",
    "distance",
    *stats.columns("location_km_median"),
    *stats.columns("location_km_q68"),
    "failed",
    *stats.columns("current_median"),
    *stats.columns("current_q68"),
)
DEGENERACY_MIN_KM = 450.0


def load_fits(paths: Sequence[str | Path]) -> dict[str, np.ndarray]:
    """The fit files of one held-out split, concatenated (keys as written by
    :func:`~cnnpractice.elves.fit.fit_shard`)."""
    parts = []
    for path in paths:
        with np.load(path) as data:
            part = dict(data)
        if "event_id" not in part or "mono_success" not in part:
            raise ValueError(f"{path}: not a fit file of fit_elves (event_id, mono_* expected); rerun fit_elves")
        parts.append(part)
    if not parts:
        raise ValueError("no fit results given")
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _summary_md(rows) -> str:
    lines = [
        "| nuisances | eyes | method | distance | location median km | location 68 % km | failed "
        "| current median | current 68 % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [failed_cell(r[f"_{k}"], 2) for k in ("location_km_median", "location_km_q68")]
        cells += [str(r["failed"])]
        cells += [failed_cell(r[f"_{k}"], 3) for k in ("current_median", "current_q68")]
        lines.append(
            f"| {r['nuisances']} | {r['eyes']} | {r['method']} | {r['distance']} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def _rows_md(rows, keys: Sequence[str], headers: Sequence[str], digits: int = 2, big: str = "failed") -> str:
    """Markdown of rows whose cells are plain values or ``_key`` summaries."""
    out = []
    for r in rows:
        out.append({k: (failed_cell(r[f"_{k}"], digits, big) if f"_{k}" in r else r.get(k)) for k in keys})
    return markdown_table(out, keys, headers)


def tabulate_elves(
    *,
    detector_result: str | Path,
    locator_results: Mapping[str, str | Path],
    fit_files: Mapping[str, Sequence[str | Path]],
    test_shards: Mapping[str, Sequence[str | Path]],
    settings: Mapping[str, Any],
    distance_bins: Sequence[float],
    seed: int,
    detection_csv: str | Path,
    detection_md: str | Path,
    reconstruction_csv: str | Path,
    reconstruction_md: str | Path,
    events_csv: str | Path,
) -> None:
    """Write the detection and reconstruction tables (CSV and Markdown) and the per-event CSV.

    ``locator_results``: eye set (``mono``, ``stereo``) -> the locator's test.json;
    ``fit_files``/``test_shards``: held-out split (``test``, ``nominal``) -> its files."""
    from cnnpractice.elves.simulate import load_shards

    truth = {split: load_shards(paths, settings) for split, paths in test_shards.items()}
    detector = json.loads(Path(detector_result).read_text())
    if list(detector.get("event_id", [])) != truth["test"]["event_id"].tolist():
        raise ValueError(f"{detector_result}: its test events are not the simulated test shards; rerun the detector")
    write_detection(detector, truth["test"], seed, detection_csv, detection_md)

    cnn = {}
    for eyes, path in locator_results.items():
        cnn[eyes] = rec.prediction_index(json.loads(Path(path).read_text()), path)
    events = []
    for split, data in truth.items():
        events += rec.reconstruction_events(split, data, cnn, load_fits(fit_files[split]), settings)
    splits, eye_sets = list(truth), list(locator_results)
    columns = list(events[0]) if events else ["split"]
    write_csv(events_csv, events, columns)

    summary = rec.summary_rows(events, splits, eye_sets, distance_bins, seed)
    write_csv(reconstruction_csv, summary, SUMMARY_CSV)
    comparisons = rec.comparison_rows(events, splits, eye_sets, distance_bins, seed)
    degeneracy = rec.degeneracy_rows(events, splits, eye_sets, DEGENERACY_MIN_KM, seed)
    sections = [
        (
            "Location and peak-current errors on the held-out elves",
            _summary_md(summary) + "\nmedian / 68 % quantile [95 % bootstrap interval] n. Location error: km between "
            "the true and the estimated stroke; current error: |I_est / I_true - 1|. A failed fit counts as worse "
            "than any estimate. Mismatched: elves simulated with per-event nuisances the fit does not know "
            "(`elves.nuisances`); matched: the nominal simulation, the fit's own model. The CNNs are trained once, "
            "on elves with nuisances, and scored on both. The null row places every elve at the mean true "
            "position of the split's elves (a constant fitted on the test elves: an optimistic guess).\n\n"
            + REFERENCES
            + "\n",
        ),
        (
            "Who wins: paired differences of the median location error (same elves)",
            _rows_md(
                comparisons,
                ("nuisances", "comparison", "distance", "diff", "verdict"),
                ("nuisances", "comparison", "distance", "median difference km", "verdict"),
                big="inf",
            )
            + "\nmedian(first) - median(second) with a paired bootstrap interval (events resampled with both of "
            "their errors; a failed fit is worse than any error, so a bound can be inf). The verdict names the "
            "better one only when the interval excludes 0; otherwise tie.\n",
        ),
        (
            f"The fit's distance/t0 degeneracy beyond {DEGENERACY_MIN_KM:g} km",
            _rows_md(
                degeneracy,
                ("nuisances", "eyes", "abs_distance_error_km", "abs_t0_error_us", "spearman"),
                ("nuisances", "eyes", "median abs distance error km", "median abs t0 error us", "Spearman(dd, dt0)"),
            )
            + "\nSuccessful fits only. dd: fitted minus true ground distance from the first eye; dt0: fitted stroke "
            "time (the truth is 0). A strong correlation with large errors is the degeneracy: a farther stroke "
            "fired earlier lights the camera almost as a nearer one fired later.\n",
        ),
    ]
    if "test" in truth and "nominal" in truth:
        effects = rec.nuisance_rows(events, settings, eye_sets, seed)
        keys = tuple(f"{m}_{e}" for e in eye_sets for m in rec.METHODS)
        sections.append(
            (
                "Which nuisance hurts (mismatched elves)",
                _rows_md(effects, ("nuisance", *keys), ("nuisance", *(f"Spearman with {k} error" for k in keys)))
                + "\nRank correlation of each elve's location error (a failed fit as the worst) with how far its "
                "nuisance is from the nominal value. An interval that holds 0 is what no effect gives.\n",
            )
        )
    write_markdown(reconstruction_md, sections, title="Elves: lightning reconstruction, CNN vs timing fit")
    overall = [r for r in summary if r["distance"] == "all" and r["method"] != "null (constant guess)"]
    log.info(
        "tables: "
        + "; ".join(
            f"{r['nuisances']} {r['method']} {r['eyes']} median {r['location_km_median']:.2f} km" for r in overall
        )
    )
