"""Recompute the tiny end-to-end run's tables from the per-run files the workflow wrote.

``tests/test_workflow.py::test_tiny_end_to_end`` calls one function per study. Each reads the
files the training, scoring and fitting jobs wrote (``test.json``, ``validation.json``,
``metrics.csv``, ``selection.json``, score files, locator and fit results, semantic per-seed
outputs) on its own, recomputes every number of the study's table rows (means, t intervals,
n, chance rows) with NumPy/SciPy, and asserts that the table holds the same numbers. The
package's table functions are never called, so a table that reads the wrong run, a stale
file or a mislabelled split differs from what is recomputed here. Each function also asserts
one above-chance result of its study on the tiny config, by a one-sided test against the
study's chance level, which a run on shuffled labels fails.

Interval formulas follow the tables' documented choices: Student-t over seeds (clipped to
[0, 1] where the table says so), Wilson for a proportion on a test split
(:func:`cnnpractice.stats.proportion_ci`, used for its formula only).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import stats as sps

from cnnpractice.stats import proportion_ci

REL = 1e-9


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def num(cell: str | None) -> float:
    """A CSV cell as a float; empty cells are NaN."""
    return math.nan if cell in (None, "") else float(cell)


def same(cell: str | None, value, where: str) -> None:
    """The table's ``cell`` equals the recomputed ``value`` (NaN/None equal an empty cell)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        assert cell in ("", None) or math.isnan(num(cell)), f"{where}: table has {cell!r}, recomputed nothing"
        return
    assert cell not in ("", None), f"{where}: table cell empty, recomputed {value!r}"
    if isinstance(value, str):
        assert cell == value, f"{where}: table has {cell!r}, recomputed {value!r}"
        return
    assert math.isclose(num(cell), float(value), rel_tol=REL, abs_tol=1e-12), (
        f"{where}: table has {cell}, recomputed {value!r}"
    )


def t_interval(values: Sequence[float], clip: bool = False) -> dict:
    """Mean, 95 % Student-t interval, sd and n of ``values`` (no interval for n = 1)."""
    x = np.asarray(values, dtype=float)
    n, mean = x.size, float(x.mean())
    if n < 2:
        return {"mean": mean, "lo": math.nan, "hi": math.nan, "sd": math.nan, "n": n}
    sd = float(x.std(ddof=1))
    if sd == 0:
        lo = hi = mean
    else:
        lo, hi = sps.t.interval(0.95, n - 1, loc=mean, scale=sd / math.sqrt(n))
    if clip:
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    return {"mean": mean, "lo": float(lo), "hi": float(hi), "sd": sd, "n": n}


def same_summary(row: dict, prefix: str, summary: dict, where: str) -> None:
    """``<prefix>``, ``_ci_low``, ``_ci_high`` and ``_n`` of ``row`` equal ``summary``."""
    same(row[prefix], summary["mean"], f"{where} {prefix}")
    same(row[f"{prefix}_ci_low"], summary["lo"], f"{where} {prefix}_ci_low")
    same(row[f"{prefix}_ci_high"], summary["hi"], f"{where} {prefix}_ci_high")
    assert row[f"{prefix}_n"] == str(summary["n"]), f"{where} {prefix}_n: {row[f'{prefix}_n']} != {summary['n']}"


def majority(y: Sequence[int]) -> dict:
    """Always the majority class: its share of ``y`` with the Wilson interval."""
    _, counts = np.unique(np.asarray(y), return_counts=True)
    return proportion_ci(int(counts.max()), int(len(y)))


def above_chance(correct: int, n: int, chance: float, where: str, alpha: float = 0.01) -> float:
    """One-sided binomial test of ``correct`` of ``n`` against the chance rate; returns p."""
    p = float(sps.binomtest(int(correct), int(n), chance, alternative="greater").pvalue)
    assert p < alpha, f"{where}: {correct}/{n} correct is not above chance {chance:.3f} (binomial p = {p:.3g})"
    return p


# --- time series -------------------------------------------------------------------------


def _ts_runs(wf: Path, dataset: str, transfer: bool) -> dict[tuple[str, str], list[dict]]:
    """Every run of ``dataset`` from its ``test.json`` and ``validation.json``, checked against
    its predictions, the dataset's test labels and its epoch history. Default datasets:
    ``<dataset>/<model>/<image>/run<i>``; transfer datasets: ``transfer/<dataset>/<model>/run<i>``."""
    labels = np.load(wf / f"resources/timeseries/{dataset}/test.npz")["y"]
    runs: dict[tuple[str, str], list[dict]] = {}
    pattern = "*/run*/test.json" if transfer else "*/*/run*/test.json"
    root = wf / "results/timeseries" / ("transfer" if transfer else "") / dataset
    for path in sorted(root.glob(pattern)):
        res = json.loads(path.read_text())
        where = str(path.relative_to(wf))
        folder = (path.parts[-3], res["image"]) if transfer else (path.parts[-4], path.parts[-3])
        assert (res["dataset"], res["model"], res["image"]) == (dataset, *folder), where
        y_true, y_pred = np.asarray(res["y_true"]), np.asarray(res["y_pred"])
        assert np.array_equal(y_true, labels), f"{where}: y_true is not the test split's labels"
        same(str(res["test_accuracy"]), float(np.mean(y_true == y_pred)), f"{where} test_accuracy")
        val = json.loads((path.parent / "validation.json").read_text())
        history = {int(r["epoch"]): r for r in read_csv(path.parent / "metrics.csv")}
        assert val["seed"] == res["seed"] and val["best_epoch"] == res["best_epoch"], where
        same(history[res["best_epoch"]]["val_acc"], val["val_acc"], f"{where} val_acc of the best epoch")
        runs.setdefault((res["model"], res["image"]), []).append(
            res | {"val_acc": val["val_acc"], "correct": int(np.sum(y_true == y_pred))}
        )
    return runs


def _ts_table(wf: Path, table: str, datasets: Sequence[str], repeats: int, image: str) -> dict:
    rows = read_csv(wf / f"results/timeseries/{table}.csv")
    assert sorted({r["dataset"] for r in rows}) == sorted(datasets), table
    recomputed = {}
    for dataset in datasets:
        runs = _ts_runs(wf, dataset, transfer=table == "transfer")
        mine = {(r["model"], r["image"]): r for r in rows if r["dataset"] == dataset}
        assert set(mine) == set(runs) | {("chance", "majority")}, f"{table} {dataset}: {sorted(mine)} vs runs"
        labels = np.load(wf / f"resources/timeseries/{dataset}/test.npz")["y"]
        chance = majority(labels)
        same_summary(mine[("chance", "majority")], "test_accuracy", chance, f"{table} {dataset} chance")
        for key, members in runs.items():
            where = f"{table} {dataset} {key}"
            assert len(members) == repeats, f"{where}: {len(members)} runs, config repeats {repeats}"
            row, n_test = mine[key], len(labels)
            acc = t_interval([m["test_accuracy"] for m in members], clip=True)
            same_summary(row, "test_accuracy", acc, where)
            same(row["test_accuracy_sd"], acc["sd"], f"{where} sd")
            same_summary(row, "test_split", proportion_ci(round(acc["mean"] * n_test), n_test), where)
            same_summary(row, "val_accuracy", t_interval([m["val_acc"] for m in members], clip=True), where)
            assert row["n_test"] == str(n_test) and row["n_params"] == str(members[0]["n_params"]), where
            assert row["selected"] == (str(key[1] == image) if key[0] == "cnn" else ""), where
        recomputed[dataset] = {"runs": runs, "chance": chance}
    return recomputed


def check_timeseries_tables(wf: Path, datasets: Sequence[str], transfer: Sequence[str], repeats: int) -> None:
    """``accuracy.csv``, ``accuracy_runs.csv`` and ``transfer.csv`` from the runs' files; the
    image type chosen on the CNN runs' validation accuracy; the chosen CNN above chance."""
    selection = json.loads((wf / "results/timeseries/selection.json").read_text())
    cnn_val: dict[str, list[float]] = {}
    for dataset in datasets:
        for path in sorted((wf / "results/timeseries" / dataset / "cnn").glob("*/run*/validation.json")):
            cnn_val.setdefault(path.parts[-3], []).append(json.loads(path.read_text())["val_acc"])
    best = max(cnn_val, key=lambda image: np.mean(cnn_val[image]))
    assert math.isclose(np.mean(cnn_val[selection["image"]]), np.mean(cnn_val[best]), rel_tol=REL), selection
    image = selection["image"]

    default = _ts_table(wf, "accuracy", datasets, repeats, image)
    _ts_table(wf, "transfer", transfer, repeats, image)

    runs_csv = read_csv(wf / "results/timeseries/accuracy_runs.csv")
    expected = sorted(
        (d, m["model"], m["image"], str(m["seed"]), m["test_accuracy"])
        for d, rec in default.items()
        for members in rec["runs"].values()
        for m in members
    )
    got = sorted((r["dataset"], r["model"], r["image"], r["seed"], float(r["test_accuracy"])) for r in runs_csv)
    assert got == expected, "accuracy_runs.csv differs from the runs' test.json files"

    # the CNN on the image type chosen on validation, its runs pooled, beats always-majority
    for dataset, rec in default.items():
        members = rec["runs"][("cnn", image)]
        n = sum(len(m["y_true"]) for m in members)
        above_chance(sum(m["correct"] for m in members), n, rec["chance"]["mean"], f"timeseries {dataset} cnn/{image}")


# --- elves -------------------------------------------------------------------------------

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
