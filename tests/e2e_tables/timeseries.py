"""The time-series tables recomputed from the training runs' files."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cnnpractice.stats import proportion_ci
from e2e_tables.common import REL, above_chance, majority, read_csv, same, same_summary, t_interval


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
        assert (val["seed"], val["best_epoch"]) == (res["seed"], res["best_epoch"]), (
            f"{where}: its validation.json is of another run (seed, best epoch)"
        )
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

    # the CNN on the image type chosen on validation beats always-majority: its best run, on
    # the test split's series (independent trials; Bonferroni over the runs). Pooling the
    # runs would count every series once per seed as if they were independent.
    for dataset, rec in default.items():
        members = rec["runs"][("cnn", image)]
        best = max(members, key=lambda m: m["correct"])
        where = f"timeseries {dataset} cnn/{image} seed {best['seed']}"
        above_chance(best["correct"], len(best["y_true"]), rec["chance"]["mean"], where, 0.01 / len(members))
