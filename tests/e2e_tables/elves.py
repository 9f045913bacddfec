"""The elves tables recomputed from the detector's, the locators' and the fits' results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cnnpractice.stats import proportion_ci
from e2e_tables.common import above_chance, num, read_csv, same, same_summary

FAILED_KM = 1e6  # the tables' stand-in for a failed reconstruction (worse than any error)


def _elves_truth(wf: Path, split: str) -> dict[str, np.ndarray]:
    parts = [dict(np.load(p)) for p in sorted((wf / "results/elves/simulated" / split).glob("shard*.npz"))]
    assert parts, f"no simulated {split} shards"
    keys = ("label", "event_id", "east_km", "north_km", "current_ka", "distance_km")
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def _quantile(values: np.ndarray, q: float) -> float:
    return float(np.quantile(np.where(np.isfinite(values), values, FAILED_KM), q, method="inverted_cdf"))


def _elves_errors(wf: Path, split: str, truth: dict) -> dict[str, np.ndarray]:
    """Per held-out elve of ``split`` (label 0): location and current errors of each locator
    and each fit, from the locators' ``test.json`` and the fit files, against the shards' truth."""
    elves = np.flatnonzero(truth["label"] == 0)
    ids = truth["event_id"][elves]
    east, north, current = (truth[k][elves] for k in ("east_km", "north_km", "current_ka"))
    out = {"distance_km": truth["distance_km"][elves]}
    for eyes in ("mono", "stereo"):
        res = json.loads((wf / f"results/elves/locator/{eyes}/test.json").read_text())
        pred = {(s, int(e)): p for s, e, p in zip(res["split"], res["event_id"], res["y_pred"])}
        p = np.array([pred[(split, int(e))] for e in ids])
        out[f"cnn_{eyes}_location"] = np.hypot(p[:, 0] - east, p[:, 1] - north)
        out[f"cnn_{eyes}_current"] = np.abs(np.exp(p[:, 2]) / current - 1)
    fits = [dict(np.load(p)) for p in sorted((wf / "results/elves/fit" / split).glob("*.npz"))]
    fit = {k: np.concatenate([f[k] for f in fits]) for k in fits[0]}
    row = {int(e): i for i, e in enumerate(fit["event_id"])}
    j = np.array([row[int(e)] for e in ids])
    for eyes in ("mono", "stereo"):
        ok = fit[f"{eyes}_success"][j].astype(bool)
        fe, fn, fc = (fit[f"{eyes}_{k}"][j] for k in ("east_km", "north_km", "current_ka"))
        out[f"fit_{eyes}_location"] = np.where(ok, np.hypot(fe - east, fn - north), np.inf)
        out[f"fit_{eyes}_current"] = np.where(ok & np.isfinite(fc), np.abs(fc / current - 1), np.inf)
    out["null_location"] = np.hypot(east - east.mean(), north - north.mean())
    out["null_current"] = np.abs(np.median(current) / current - 1)
    return out


def _same_quantiles(row: dict, values: np.ndarray, where: str) -> None:
    for name, q in (("median", 0.5), ("q68", 0.68)):
        for kind in ("location_km", "current"):
            prefix = f"{kind}_{name}"
            arr = values[kind]
            same(row[prefix], _quantile(arr, q), f"{where} {prefix}")
            assert row[f"{prefix}_n"] == str(arr.size), f"{where} {prefix}_n"
            assert num(row[f"{prefix}_ci_low"]) <= num(row[prefix]) <= num(row[f"{prefix}_ci_high"]), where


def check_elves_tables(wf: Path) -> None:
    """``detection.csv`` from the detector's ``test.json`` and the test shards' labels;
    ``reconstruction.csv`` (medians, 68 % quantiles, n, failures) from the locators' and the
    fits' per-event results; the timing fit locates elves better than the constant guess."""
    truth = {split: _elves_truth(wf, split) for split in ("test", "nominal")}
    detector = json.loads((wf / "results/elves/detector/test.json").read_text())
    y_true, y_pred = np.asarray(detector["y_true"]), np.asarray(detector["y_pred"])
    assert np.array_equal(y_true, truth["test"]["label"]), "the detector's y_true are not the test shards' labels"
    same(str(detector["test_accuracy"]), float(np.mean(y_true == y_pred)), "detector test_accuracy")
    rows = {r["class"]: r for r in read_csv(wf / "results/elves/detection.csv")}
    assert list(rows) == [c for k, c in enumerate(detector["class_names"]) if (y_true == k).any()]
    for k, name in enumerate(detector["class_names"]):
        if name not in rows:
            continue
        tp, n_true, n_pred = (
            int(((y_true == k) & (y_pred == k)).sum()),
            int((y_true == k).sum()),
            int((y_pred == k).sum()),
        )
        row, where = rows[name], f"detection {name}"
        assert (row["n_true"], row["n_predicted"]) == (str(n_true), str(n_pred)), where
        same_summary(row, "recall", proportion_ci(tp, n_true), where)
        if n_pred:
            same_summary(row, "precision", proportion_ci(tp, n_pred), where)
        else:
            assert row["precision"] == "", where
        same(row["f1"], 2 * tp / (n_true + n_pred), f"{where} f1")

    summary = read_csv(wf / "results/elves/reconstruction.csv")
    labels = {"test": "mismatched", "nominal": "matched"}
    seen = 0
    for split, label in labels.items():
        errors = _elves_errors(wf, split, truth[split])
        for row in (r for r in summary if r["nuisances"] == label):
            if row["distance"] == "all":
                mask = np.ones(errors["distance_km"].size, bool)
            else:
                lo, hi = (float(x) for x in row["distance"].removesuffix(" km").split("-"))
                mask = (errors["distance_km"] >= lo) & (errors["distance_km"] < hi)
            key = "null" if row["method"].startswith("null") else f"{row['method']}_{row['eyes']}"
            values = {"location_km": errors[f"{key}_location"][mask], "current": errors[f"{key}_current"][mask]}
            where = f"reconstruction {label} {row['eyes']} {row['method']} {row['distance']}"
            _same_quantiles(row, values, where)
            assert row["failed"] == str(int((~np.isfinite(values["location_km"])).sum())), where
            seen += 1
        # the timing fit (stereo, the fit's own model) beats the constant guess, elve by elve
        if split == "nominal":
            fit, null = errors["fit_stereo_location"], errors["null_location"]
            above_chance(int((fit < null).sum()), fit.size, 0.5, "elves matched stereo fit vs constant guess")
    assert seen == len(summary), f"{len(summary) - seen} reconstruction rows not recomputed"
