"""The small-data tables recomputed from the chosen runs and the classifiers' score files."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import stats as sps

from cnnpractice.stats import proportion_ci
from e2e_tables.common import above_chance, majority, num, read_csv, same, same_summary, t_interval


def _sd_chosen_run(run_dir: Path, labels: np.ndarray, monitor: str, where: str) -> dict:
    """The chosen run of one stage: its test accuracy from its predictions against the test
    split's labels, and the learning rate the candidates' validation histories pick."""
    res = json.loads((run_dir / "test.json").read_text())
    y_true, y_pred = np.asarray(res["y_true"]), np.asarray(res["y_pred"])
    assert np.array_equal(y_true, labels), f"{where}: y_true is not the test split's labels"
    same(str(res["test_accuracy"]), float(np.mean(y_true == y_pred)), f"{where} test_accuracy")
    scores = {}
    for history in sorted(run_dir.glob("candidates/lr*/metrics.csv")):
        rows = read_csv(history)
        values = [num(r[monitor]) for r in rows if r[monitor] != ""]
        scores[float(history.parent.name.removeprefix("lr"))] = min(values) if monitor == "val_loss" else max(values)
    assert scores, f"{where}: no candidate histories"
    sign = 1 if monitor == "val_loss" else -1
    lr = min(sorted(scores), key=lambda v: sign * scores[v])
    return {
        "test_accuracy": res["test_accuracy"],
        "lr": lr,
        "score": scores[lr],
        "correct": int(np.sum(y_true == y_pred)),
    }


def _sd_block(wf: Path, dataset: str, arch: str, seeds: Sequence[int], labels: np.ndarray, monitor: str) -> dict:
    """Per row label (and budget) of the greedy table, one record per seed."""
    root = wf / "results/smalldata" / dataset / arch
    records: dict[tuple[str, str], list[dict]] = {}
    for seed in seeds:
        greedy = {
            f"L{k}": _sd_chosen_run(root / f"greedy/seed{seed}/L{k}", labels, monitor, f"{arch} greedy seed{seed} L{k}")
            for k in range(1, 6)
        }
        for name, rec in greedy.items():
            records.setdefault((name, ""), []).append(rec)
        choose = min if monitor == "val_loss" else max
        g_name = choose(greedy, key=lambda n: greedy[n]["score"])
        records.setdefault(("greedy, stage chosen on validation", ""), []).append(greedy[g_name] | {"stage": g_name})
        full_root = root / f"full/seed{seed}"
        for budget_dir in sorted(p for p in full_root.iterdir() if p.is_dir()):
            budget = budget_dir.name
            full = {
                p.name: _sd_chosen_run(p, labels, monitor, f"{arch} full seed{seed} {budget} {p.name}")
                for p in sorted(budget_dir.glob("L*"))
            }
            for name, rec in full.items():
                records.setdefault((f"Full {name}", budget), []).append(rec)
            f_name = choose(full, key=lambda n: full[n]["score"])
            f_rec = full[f_name] | {"stage": f_name}
            records.setdefault(("end to end, stage chosen on validation", budget), []).append(f_rec)
            g_acc, f_acc = greedy[g_name]["test_accuracy"], f_rec["test_accuracy"]
            records.setdefault(("gain (greedy / end to end - 1)", budget), []).append({"value": g_acc / f_acc - 1})
            records.setdefault(("greedy - end to end (paired by seed)", budget), []).append({"value": g_acc - f_acc})
    return records


def check_smalldata_tables(wf: Path, dataset: str, arch: str, seeds: Sequence[int], monitor: str = "val_loss") -> None:
    """``greedy.csv`` from every chosen run's ``test.json`` and every candidate's
    ``metrics.csv`` (learning rate and stage chosen again on validation here), ``features.csv``
    from the classifiers' score files; the best learned feature set beats always-majority."""
    labels = np.load(wf / f"resources/smalldata/{dataset}/test_y.npy")
    chance = majority(labels)
    rows = [r for r in read_csv(wf / "results/smalldata/greedy.csv") if r["dataset"] == dataset]
    mine = {(r["row"], r["budget"]): r for r in rows if r["arch"] == arch}
    same_summary(mine[("chance (majority class)", "")], "accuracy", chance, "greedy chance")
    records = _sd_block(wf, dataset, arch, seeds, labels, monitor)
    assert set(mine) == set(records) | {("chance (majority class)", "")}, sorted(set(mine) ^ set(records))
    for key, recs in records.items():
        row, where = mine[key], f"greedy.csv {arch} {key}"
        values = [r.get("value", r.get("test_accuracy")) for r in recs]
        if key[0].startswith("gain") and not all(np.isfinite(values)):
            assert row["accuracy"] == "", where
            continue
        same_summary(row, "accuracy", t_interval(values), where)
        if "lr" in recs[0]:
            assert row["chosen_lr"] == ";".join(f"{r['lr']:g}" for r in recs), where
        if "stage" in recs[0]:
            assert row["chosen_stage"] == ";".join(r["stage"] for r in recs), where
        if key[0].startswith("greedy -"):
            p = sps.ttest_1samp(values, 0.0).pvalue if np.std(values) > 0 else math.nan
            same(row["p_t"], float(p), f"{where} p_t")
    finetune = wf / "results/smalldata" / dataset / "finetune/test.json"
    if finetune.exists():
        res = json.loads(finetune.read_text())
        assert np.array_equal(np.asarray(res["y_true"]), labels), "finetune: y_true is not the test split's labels"
        correct = int(np.sum(np.asarray(res["y_true"]) == np.asarray(res["y_pred"])))
        (row,) = [r for r in rows if r["arch"] == "finetune"]
        same_summary(row, "accuracy", proportion_ci(correct, len(labels)), "greedy.csv finetune")

    features = [r for r in read_csv(wf / "results/smalldata/features.csv") if r["dataset"] == dataset]
    table = {(r["feature_set"], r["classifier"]): r for r in features}
    same_summary(table[("chance (majority class)", "")], "accuracy", chance, "features chance")
    scored = {}
    for path in sorted((wf / "results/smalldata" / dataset / "scores").glob("*.json")):
        data = json.loads(path.read_text())
        for res in data if isinstance(data, list) else [data]:
            assert res["n_test"] == len(labels), f"{path}: scored on {res['n_test']} test images"
            scored.setdefault((res["feature_set"], res["classifier"]), []).append(res)
    assert set(table) == set(scored) | {("chance (majority class)", "")}, sorted(set(table) ^ set(scored))
    for key, group in scored.items():
        row, where = table[key], f"features.csv {key}"
        if len(group) > 1:
            same_summary(row, "accuracy", t_interval([g["accuracy"] for g in group]), where)
        else:
            n = group[0]["n_test"]
            same_summary(row, "accuracy", proportion_ci(round(group[0]["accuracy"] * n), n), where)
        same_summary(row, "cv_accuracy", t_interval([s for g in group for s in g["cv_scores"]]), where)
        assert row["best_C"] == ";".join(f"{g['best_C']:g}" for g in group), where
        assert row["n_features"] == str(group[0]["n_features"]), where

    # a linear classifier on the greedy network's learned features beats always-majority
    learned = [g[0] for k, g in scored.items() if k[0].startswith(f"{arch}_greedy_") and len(g) == 1]
    best = max(learned, key=lambda g: g["accuracy"])
    n = best["n_test"]
    # the best of the learned sets: Bonferroni over them keeps the test honest
    above_chance(
        round(best["accuracy"] * n), n, chance["mean"], f"smalldata {best['feature_set']}", 0.01 / len(learned)
    )
