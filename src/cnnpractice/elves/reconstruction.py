"""The reconstruction tables' rows: per-event errors of the CNN and the timing fit (one eye
and stereo) on the held-out elves, their medians and 68 % quantiles per distance bin,
paired comparisons, the fit's distance/t0 degeneracy and the nuisances' effects.

Every number carries its n and a 95 % bootstrap interval (:mod:`~cnnpractice.elves.scores`);
the ``_``-prefixed keys of a row hold the summaries for the Markdown cells.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cnnpractice import stats
from cnnpractice.elves import scores
from cnnpractice.elves.geometry import bearing_and_distance, ground_point

SPLIT_LABELS = {"test": "mismatched", "nominal": "matched"}
METHODS = ("cnn", "fit")
NUISANCE_FIELDS = ("layer_altitude_km", "layer_thickness_km", "current_exponent", "vertical_optical_depth", "n_pulses")
NUISANCE_EFFECTS = (
    ("layer altitude, abs(h - nominal)", "layer_altitude_km", "layer"),
    ("layer thickness", "layer_thickness_km", None),
    ("light-yield exponent, abs(p - nominal)", "current_exponent", "exponent"),
    ("vertical optical depth, abs(tau - nominal)", "vertical_optical_depth", "depth"),
    ("pulses (1, 2, 3)", "n_pulses", None),
)


def prediction_index(result: Mapping[str, Any], path) -> dict[tuple[str, int], np.ndarray]:
    if "split" not in result:
        raise ValueError(f"{path}: no 'split' per test elve; rerun train_elves_locator")
    return {(s, int(e)): np.asarray(p) for s, e, p in zip(result["split"], result["event_id"], result["y_pred"])}


def reconstruction_events(
    split: str,
    truth: Mapping[str, np.ndarray],
    cnn: Mapping[str, Mapping[tuple[str, int], np.ndarray]],
    fits: Mapping[str, np.ndarray],
    settings: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """One row per held-out elve of ``split``: truth, nuisances, and each method's and eye
    set's location and current errors (``cnn_mono_error_km``, ``fit_stereo_current_error``, ...),
    the fit's t0 (truth 0) and distance error."""
    from cnnpractice.elves.simulate import CLASSES, build_detector

    detector = build_detector(settings)
    elves = np.flatnonzero(truth["label"] == CLASSES.index("elve"))
    fit_row = {int(e): i for i, e in enumerate(fits["event_id"])}
    eye_sets = [name for name in ("mono", "stereo") if f"{name}_success" in fits]
    rows = []
    for i in elves:
        event = int(truth["event_id"][i])
        if event not in fit_row or any((split, event) not in pred for pred in cnn.values()):
            raise ValueError(f"held-out elve {split}/{event} has no CNN or fit result; rerun the locator/fit")
        east, north, current = truth["east_km"][i], truth["north_km"][i], truth["current_ka"][i]
        row = {"split": split, "event_id": event, "distance_km": float(truth["distance_km"][i])}
        row.update(east_km=float(east), north_km=float(north))
        row.update({k: float(truth[k][i]) for k in ("bearing_deg", "current_ka", *NUISANCE_FIELDS)})
        for eyes, pred in cnn.items():
            p = pred[(split, event)]
            row[f"cnn_{eyes}_error_km"] = float(np.hypot(p[0] - east, p[1] - north))
            row[f"cnn_{eyes}_current_error"] = float(abs(np.exp(p[2]) / current - 1))
        j = fit_row[event]
        for eyes in eye_sets:
            ok = bool(fits[f"{eyes}_success"][j])
            fe, fn, fc = (float(fits[f"{eyes}_{k}"][j]) for k in ("east_km", "north_km", "current_ka"))
            row[f"fit_{eyes}_error_km"] = float(np.hypot(fe - east, fn - north)) if ok else np.inf
            row[f"fit_{eyes}_current_error"] = abs(fc / current - 1) if ok and np.isfinite(fc) else np.inf
            row[f"fit_{eyes}_t0_us"] = float(fits[f"{eyes}_t0_us"][j]) if ok else np.nan
            _, distance = bearing_and_distance(detector.eyes[0], ground_point(detector.reference, fe, fn)[None])
            row[f"fit_{eyes}_distance_error_km"] = float(distance[0] - row["distance_km"]) if ok else np.nan
            row[f"fit_{eyes}_success"] = ok
        rows.append(row)
    return rows


def _bins(events, distance_bins):
    distance = np.array([e["distance_km"] for e in events])
    edges = list(distance_bins)
    out = [(f"{lo:g}-{hi:g} km", (distance >= lo) & (distance < hi)) for lo, hi in zip(edges[:-1], edges[1:])]
    return out + [("all", np.ones(len(events), bool))]


def _values(events, mask, key):
    return np.array([e[key] for e, m in zip(events, mask) if m], dtype=float)


def summary_rows(events, splits, eye_sets, distance_bins, seed: int) -> list[dict[str, Any]]:
    """Error medians and 68 % quantiles per (split, eyes, method, distance bin), and the
    constant-guess null (the mean true position of the split's elves, the median current)."""
    rows = []
    for split in splits:
        chosen = [e for e in events if e["split"] == split]
        for label, mask in _bins(chosen, distance_bins):
            for eyes in eye_sets:
                for method in METHODS:
                    key = f"{method}_{eyes}"
                    location = scores.error_cells(_values(chosen, mask, f"{key}_error_km"), seed)
                    current = scores.error_cells(_values(chosen, mask, f"{key}_current_error"), seed)
                    failed = int((~np.isfinite(_values(chosen, mask, f"{key}_error_km"))).sum())
                    rows.append(_summary_row(split, eyes, method, label, location, current, failed))
            rows.append(_null_row(chosen, mask, split, label, seed))
    return rows


def _summary_row(split, eyes, method, label, location, current, failed):
    row = {"nuisances": SPLIT_LABELS.get(split, split), "eyes": eyes, "method": method, "distance": label}
    row["failed"] = failed
    for name, cells in (("location_km", location), ("current", current)):
        for stat in ("median", "q68"):
            row.update(stats.flatten(f"{name}_{stat}", cells[stat], key="value"))
            row[f"_{name}_{stat}"] = cells[stat]
    return row


def _null_row(chosen, mask, split, label, seed):
    """What knowing nothing gives: every elve placed at the mean true position of the split's
    elves (an optimistic constant: it is fitted on the test elves), current at their median."""
    east, north, current = (
        np.array([e[k] for e in chosen], dtype=float) for k in ("east_km", "north_km", "current_ka")
    )
    error = np.hypot(east - east.mean(), north - north.mean())[mask] if len(east) else east
    current_error = np.abs(np.median(current) / current - 1)[mask] if len(current) else current
    location, current = scores.error_cells(error, seed), scores.error_cells(current_error, seed)
    return _summary_row(split, "-", "null (constant guess)", label, location, current, 0)


def comparison_rows(events, splits, eye_sets, distance_bins, seed: int) -> list[dict[str, Any]]:
    """Paired differences of median location error on the same elves: CNN - fit per eye set,
    and stereo - mono per method. Negative with an interval below 0: the first one wins."""
    pairs = [(f"cnn_{eyes}", f"fit_{eyes}", f"CNN - fit ({eyes})") for eyes in eye_sets]
    if "stereo" in eye_sets:
        pairs += [(f"{m}_stereo", f"{m}_mono", f"stereo - mono ({m.upper() if m == 'cnn' else m})") for m in METHODS]
    rows = []
    for split in splits:
        chosen = [e for e in events if e["split"] == split]
        for label, mask in _bins(chosen, distance_bins):
            for a, b, name in pairs:
                diff = scores.median_difference(
                    _values(chosen, mask, f"{a}_error_km"), _values(chosen, mask, f"{b}_error_km"), seed
                )
                verdict = "–"
                if diff is not None and not np.isnan(diff["lo"]):
                    verdict = (
                        "first better" if diff["hi"] < 0 else "second better" if diff["lo"] > 0 else "not resolved"
                    )
                row = {"nuisances": SPLIT_LABELS.get(split, split), "comparison": name, "distance": label}
                row.update(stats.flatten("median_difference_km", diff, key="value"))
                rows.append({**row, "verdict": verdict, "_diff": diff})
    return rows


def degeneracy_rows(events, splits, eye_sets, min_distance_km: float, seed: int) -> list[dict[str, Any]]:
    """The fit's distance/t0 trade-off beyond ``min_distance_km``: |distance error|, |t0 error|
    (the truth is 0) and their Spearman correlation, per split and eye set (successful fits)."""
    rows = []
    for split in splits:
        for eyes in eye_sets:
            chosen = [
                e
                for e in events
                if e["split"] == split and e["distance_km"] >= min_distance_km and e[f"fit_{eyes}_success"]
            ]
            dd = np.array([e[f"fit_{eyes}_distance_error_km"] for e in chosen])
            dt = np.array([e[f"fit_{eyes}_t0_us"] for e in chosen])
            cells = {
                "abs_distance_error_km": stats.bootstrap_ci(np.abs(dd), np.median, seed=seed) if len(dd) else None,
                "abs_t0_error_us": stats.bootstrap_ci(np.abs(dt), np.median, seed=seed) if len(dt) else None,
                "spearman": scores.spearman(dd, dt, seed),
            }
            row = {"nuisances": SPLIT_LABELS.get(split, split), "eyes": eyes, "distance": f">= {min_distance_km:g} km"}
            for name, cell in cells.items():
                row.update(stats.flatten(name, cell, key="value"))
                row[f"_{name}"] = cell
            rows.append(row)
    return rows


def nuisance_rows(events, settings, eye_sets, seed: int) -> list[dict[str, Any]]:
    """Which nuisance hurts: Spearman correlation of each method's location error with each
    nuisance's distance from the nominal value, on the mismatched split. An interval that
    holds 0 is what no effect gives (the null)."""
    from cnnpractice.elves.nuisances import nominal

    chosen = [e for e in events if e["split"] == "test"]
    base = nominal(settings)
    reference = {
        "layer": base.layer_altitude_km,
        "exponent": base.current_exponent,
        "depth": base.vertical_optical_depth,
    }
    rows = []
    for label, field, centre in NUISANCE_EFFECTS:
        x = np.array([e[field] for e in chosen], dtype=float)
        if centre is not None:
            x = np.abs(x - reference[centre])
        if not len(x) or np.ptp(x) == 0:
            continue
        row = {"nuisance": label}
        for eyes in eye_sets:
            for method in METHODS:
                key = f"{method}_{eyes}"
                cell = scores.spearman(x, scores.with_failures([e[f"{key}_error_km"] for e in chosen]), seed)
                row.update(stats.flatten(f"{key}_spearman", cell, key="value"))
                row[f"_{key}"] = cell
        rows.append(row)
    return rows
