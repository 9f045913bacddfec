"""Result tables of the elves study.

* Detection: precision, recall and F1 of the CNN for each class (elve, shower, noise) on the
  held-out events, the confusion matrix and the accuracy.
* Reconstruction: on the same held-out elves, the CNN's and the timing fit's location error
  (km between the true and the estimated stroke; median and 90th percentile) and relative
  peak-current error |I_est / I_true - 1|, side by side, per bin of distance from the first
  eye and overall. A fit that failed (too few pixels saw light, or scipy gave up) counts as
  an infinite error, so the percentiles say how often it fails, not just how well it does
  when it works.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.io import load_npz
from cnnpractice.tables import markdown_table, write_csv, write_markdown

log = logging.getLogger("cnnpractice.elves")

DETECTION_COLUMNS = ("class", "precision", "recall", "f1", "n_true", "n_predicted")
EVENT_COLUMNS = (
    "event_id",
    "distance_km",
    "bearing_deg",
    "current_ka",
    "cnn_error_km",
    "fit_error_km",
    "cnn_current_error",
    "fit_current_error",
    "fit_success",
    "fit_n_pixels",
)
SUMMARY_COLUMNS = (
    "distance",
    "n",
    "cnn_median_km",
    "cnn_p90_km",
    "fit_median_km",
    "fit_p90_km",
    "fit_failed",
    "cnn_current_median",
    "cnn_current_p90",
    "fit_current_median",
    "fit_current_p90",
)
FIT_ARRAYS = {
    "event_id": "i",
    "east_km": "f",
    "north_km": "f",
    "current_ka": "f",
    "success": "b",
    "n_pixels": "i",
    "seconds": "f",
}
SOURCES = (
    "Published: the Auger FD's reconstruction of the light front's timing locates the lightning "
    '"within a few kilometers" of ground-based lightning networks (R. Mussa for the Pierre Auger '
    "Collaboration, ICRC 2019, PoS(ICRC2019)1131; Pierre Auger Collaboration, Earth and Space Science 7 "
    "(2020) e2019EA000582), with 100 ns bins and 440-pixel cameras."
)


def detection_rows(y_true: Sequence[int], y_pred: Sequence[int], class_names: Sequence[str]) -> list[dict]:
    """Per-class precision, recall and F1 (NaN where undefined), with counts."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rows = []
    for k, name in enumerate(class_names):
        tp = int(((y_true == k) & (y_pred == k)).sum())
        n_true, n_pred = int((y_true == k).sum()), int((y_pred == k).sum())
        precision = tp / n_pred if n_pred else float("nan")
        recall = tp / n_true if n_true else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else float("nan")
        rows.append(
            {"class": name, "precision": precision, "recall": recall, "f1": f1, "n_true": n_true, "n_predicted": n_pred}
        )
    return rows


def _quantiles(values: np.ndarray) -> tuple[float, float]:
    """Median and 90th percentile; NaN (no result) counts as infinite, and a quantile that
    interpolates towards an infinite value is infinite."""
    values = np.where(np.isnan(values), np.inf, values)
    if not len(values):
        return float("nan"), float("nan")
    with np.errstate(invalid="ignore"):
        median, p90 = np.quantile(values, [0.5, 0.9])
    return (float(median) if not np.isnan(median) else math.inf), (float(p90) if not np.isnan(p90) else math.inf)


def reconstruction_events(
    truth: Mapping[str, np.ndarray], cnn: Mapping[str, Any], fits: Mapping[str, np.ndarray]
) -> list[dict]:
    """Per held-out elve: truth and both methods' errors, joined by ``event_id``.

    ``truth``: the test shards (:func:`~cnnpractice.elves.simulate.load_shards`); ``cnn``:
    the locator's test.json (``event_id``, ``y_pred`` rows east, north, ln current);
    ``fits``: the concatenated fit files.
    """
    from cnnpractice.elves.simulate import CLASSES

    elves = np.flatnonzero(truth["label"] == CLASSES.index("elve"))
    cnn_pred = dict(zip(cnn["event_id"], cnn["y_pred"]))
    fit_index = {int(e): i for i, e in enumerate(fits["event_id"])}
    missing = [
        int(truth["event_id"][i])
        for i in elves
        if int(truth["event_id"][i]) not in cnn_pred or int(truth["event_id"][i]) not in fit_index
    ]
    if missing:
        raise ValueError(f"held-out elves without a CNN or a fit result: event ids {missing[:10]}")
    rows = []
    for i in elves:
        event = int(truth["event_id"][i])
        east, north, current = truth["east_km"][i], truth["north_km"][i], truth["current_ka"][i]
        pred = cnn_pred[event]
        j = fit_index[event]
        ok = bool(fits["success"][j])
        fit_error = float(np.hypot(fits["east_km"][j] - east, fits["north_km"][j] - north)) if ok else float("inf")
        fit_current = (
            abs(fits["current_ka"][j] / current - 1) if ok and np.isfinite(fits["current_ka"][j]) else float("inf")
        )
        rows.append(
            {
                "event_id": event,
                "distance_km": float(truth["distance_km"][i]),
                "bearing_deg": float(truth["bearing_deg"][i]),
                "current_ka": float(current),
                "cnn_error_km": float(np.hypot(pred[0] - east, pred[1] - north)),
                "fit_error_km": fit_error,
                "cnn_current_error": float(abs(np.exp(pred[2]) / current - 1)),
                "fit_current_error": float(fit_current),
                "fit_success": ok,
                "fit_n_pixels": int(fits["n_pixels"][j]),
            }
        )
    return rows


def summary_rows(events: Sequence[Mapping[str, Any]], distance_bins: Sequence[float]) -> list[dict]:
    """One row per distance bin [lo, hi) and a last row over all elves."""
    distance = np.array([e["distance_km"] for e in events])
    edges = list(distance_bins)
    ranges = [(f"{lo:g}-{hi:g} km", (distance >= lo) & (distance < hi)) for lo, hi in zip(edges[:-1], edges[1:])]
    ranges.append(("all", np.ones(len(events), bool)))
    rows = []
    for label, mask in ranges:
        chosen = [e for e, m in zip(events, mask) if m]
        row = {"distance": label, "n": len(chosen), "fit_failed": sum(not e["fit_success"] for e in chosen)}
        for key, column in (
            ("cnn_error_km", "cnn"),
            ("fit_error_km", "fit"),
            ("cnn_current_error", "cnn_current"),
            ("fit_current_error", "fit_current"),
        ):
            median, p90 = _quantiles(np.array([e[key] for e in chosen], dtype=float))
            suffix = "_km" if key.endswith("_km") else ""
            row[f"{column}_median{suffix}"], row[f"{column}_p90{suffix}"] = median, p90
        rows.append(row)
    return rows


def load_fits(paths: Sequence[str | Path]) -> dict[str, np.ndarray]:
    parts = [load_npz(p, FIT_ARRAYS) for p in paths]
    if not parts:
        raise ValueError("no fit results given")
    return {k: np.concatenate([p[k] for p in parts]) for k in FIT_ARRAYS}


def tabulate_elves(
    *,
    detector_result: str | Path,
    locator_result: str | Path,
    fit_files: Sequence[str | Path],
    test_shards: Sequence[str | Path],
    settings: Mapping[str, Any],
    distance_bins: Sequence[float],
    detection_csv: str | Path,
    detection_md: str | Path,
    reconstruction_csv: str | Path,
    reconstruction_md: str | Path,
    events_csv: str | Path,
) -> None:
    """Write the detection and reconstruction tables (CSV and Markdown) and the per-event CSV."""
    from cnnpractice.elves.simulate import load_shards

    detector = json.loads(Path(detector_result).read_text())
    locator = json.loads(Path(locator_result).read_text())
    truth = load_shards(test_shards, settings)
    if list(detector.get("event_id", [])) != truth["event_id"].tolist():
        raise ValueError(f"{detector_result}: its test events are not the simulated test shards; rerun the detector")
    det_rows = detection_rows(detector["y_true"], detector["y_pred"], detector["class_names"])
    write_csv(detection_csv, det_rows, DETECTION_COLUMNS)
    confusion = [
        {"true": name, **{f"as {other}": n for other, n in zip(detector["class_names"], counts)}}
        for name, counts in zip(detector["class_names"], detector["confusion"])
    ]
    confusion_columns = ["true", *(f"as {c}" for c in detector["class_names"])]
    write_markdown(
        detection_md,
        [
            (
                "Precision and recall on the held-out events",
                markdown_table(det_rows, DETECTION_COLUMNS) + f"\nAccuracy {detector['test_accuracy']:.4f} on "
                f"{detector['n_test']} events (best epoch {detector['best_epoch']}).\n",
            ),
            ("Confusion matrix (rows: true class)", markdown_table(confusion, confusion_columns)),
        ],
        title="Elves: detection by the CNN",
    )

    events = reconstruction_events(truth, locator, load_fits(fit_files))
    write_csv(events_csv, events, EVENT_COLUMNS)
    rows = summary_rows(events, distance_bins)
    write_csv(reconstruction_csv, rows, SUMMARY_COLUMNS)
    headers = (
        "distance",
        "elves",
        "CNN median km",
        "CNN p90 km",
        "fit median km",
        "fit p90 km",
        "fit failed",
        "CNN current median",
        "CNN current p90",
        "fit current median",
        "fit current p90",
    )
    write_markdown(
        reconstruction_md,
        [
            (
                "Location and peak-current errors on the held-out elves",
                markdown_table(rows, SUMMARY_COLUMNS, headers, digits=2)
                + "\nLocation error: km between the true and the estimated stroke; current error: "
                "|I_est / I_true - 1|. A failed fit counts as an infinite error.\n\n" + SOURCES + "\n",
            ),
        ],
        title="Elves: lightning reconstruction, CNN vs timing fit",
    )
    log.info(
        f"tables: {len(truth['label'])} test events, {len(events)} elves; overall "
        f"CNN median {rows[-1]['cnn_median_km']:.2f} km, fit median {rows[-1]['fit_median_km']:.2f} km"
    )
