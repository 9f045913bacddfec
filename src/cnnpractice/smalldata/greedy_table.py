"""The greedy vs end-to-end table: every number over seeds, with its interval, paired by seed.

Input: the ``selection.json`` of every (dataset, architecture, scheme, seed) written by
:mod:`.schemes`: what was chosen on validation (learning rate and epoch per stage, the
stage) and the test accuracy of each chosen run. Rows per dataset and architecture:

* ``chance``: always the majority class of the test split (Wilson interval, n = test images);
* ``L1``..``L5`` and ``Full Lk`` (per compute budget): test accuracy of that stage's chosen
  run, mean over seeds with a t interval;
* ``greedy (stage chosen on validation)`` and ``end to end (stage chosen on validation)``:
  the scheme's answer, the stage picked by validation score in each seed;
* ``gain``: the talk's ratio (greedy / end to end - 1) per seed, mean and t interval;
* ``greedy - end to end``: the paired difference in accuracy (:func:`cnnpractice.stats.paired`:
  t interval, paired t-test and Wilcoxon p-values, Cohen's d_z) and a one-line verdict.

The talk's numbers (their stage picked on test, one run) sit beside ours where it has the
dataset.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice import stats
from cnnpractice.reference import load_reference
from cnnpractice.tables import markdown_table, write_csv, write_markdown

ACC = stats.columns("accuracy")
COLUMNS = (
    "dataset",
    "arch",
    "row",
    "budget",
    *ACC,
    "interval",
    "p_t",
    "p_wilcoxon",
    "d_z",
    "talk_accuracy",
    "chosen_stage",
    "chosen_lr",
    "best_epoch",
    "n_train",
    "n_val",
    "n_test",
)
GREEDY_CHOICE = "greedy, stage chosen on validation"
FULL_CHOICE = "end to end, stage chosen on validation"
OVER_SEEDS = "t, over seeds"
TEST_SPLIT = "Wilson, test split (one run)"


def _load(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    return [json.loads(Path(p).read_text()) for p in paths]


def _joined(values: Sequence[Any]) -> str:
    return ";".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _stage_row(label: str, budget: str | None, records: Sequence[Mapping[str, Any]], stage_names=None) -> dict:
    """One row from the chosen runs of one stage (or the chosen stage), one record per seed."""
    acc = [r["test_accuracy"] for r in records]
    first = records[0]
    return {
        "row": label,
        "budget": budget,
        **stats.flatten("accuracy", stats.mean_ci(acc)),
        "interval": OVER_SEEDS,
        "chosen_stage": _joined(stage_names) if stage_names else None,
        "chosen_lr": _joined([r["lr"] for r in records]),
        "best_epoch": _joined([r["best_epoch"] for r in records]),
        **{k: first.get(k) for k in ("n_train", "n_val", "n_test")},
    }


def verdict(comparison: Mapping[str, float], budget: str) -> str:
    """One line on what the paired difference supports."""
    n, lo, hi = comparison["n"], comparison.get("lo"), comparison.get("hi")
    text = f"greedy - end to end ({budget}): {stats.cell(comparison, key='diff')}"
    if n < 3 or lo is None or np.isnan(lo):
        return text + "; fewer than 3 seeds: no verdict"
    text += f", paired t p = {comparison['p_t']:.3g}"
    if lo > 0:
        return text + ": greedy training is better"
    if hi < 0:
        return text + ": end-to-end training is better"
    return text + ": no difference detected (the interval includes 0)"


def _pairs(greedy: Mapping[int, dict], full: Mapping[int, dict], where: str) -> list[int]:
    seeds = sorted(set(greedy) & set(full))
    if sorted(greedy) != sorted(full):
        raise ValueError(f"{where}: greedy seeds {sorted(greedy)} and end-to-end seeds {sorted(full)} differ")
    return seeds


def block_rows(
    greedy: Mapping[int, dict], full: Mapping[int, dict], chance: dict, talk: Mapping[str, Any]
) -> tuple[list[dict], list[str]]:
    """Rows (and verdict lines) of one dataset and architecture. ``greedy``/``full``: seed ->
    selection.json; ``talk``: the talk's numbers keyed L1.., full_L3, gain."""
    seeds = _pairs(greedy, full, "greedy table")
    rows = [{"row": "chance (majority class)", **stats.flatten("accuracy", chance), "interval": "Wilson, test split"}]
    for k in range(1, 6):
        rows.append(_stage_row(f"L{k}", None, [greedy[s]["stages"][f"L{k}"] for s in seeds]) | {"talk": f"L{k}"})
    g_names = [greedy[s]["chosen_stage"] for s in seeds]
    g_acc = np.array([greedy[s]["stages"][n]["test_accuracy"] for s, n in zip(seeds, g_names)])
    rows.append(_stage_row(GREEDY_CHOICE, None, [greedy[s]["stages"][n] for s, n in zip(seeds, g_names)], g_names))
    lines = []
    budgets = list(full[seeds[0]]["budgets"])
    for budget in budgets:
        stages = list(full[seeds[0]]["budgets"][budget])
        for name in stages:
            row = _stage_row(f"Full {name}", budget, [full[s]["budgets"][budget][name] for s in seeds])
            rows.append(row | ({"talk": f"full_{name}"} if budget == "per_update" else {}))
        f_names = [full[s]["chosen_stage"][budget] for s in seeds]
        f_records = [full[s]["budgets"][budget][n] for s, n in zip(seeds, f_names)]
        rows.append(_stage_row(FULL_CHOICE, budget, f_records, f_names))
        f_acc = np.array([r["test_accuracy"] for r in f_records])
        ratio = g_acc / np.where(f_acc > 0, f_acc, np.nan) - 1.0
        gain = stats.mean_ci(ratio) if np.all(np.isfinite(ratio)) else None
        rows.append(
            {"row": "gain (greedy / end to end - 1)", "budget": budget, **stats.flatten("accuracy", gain)}
            | {"interval": OVER_SEEDS, "talk": "gain" if budget == "per_update" else None}
        )
        comparison = stats.paired(g_acc, f_acc)
        rows.append(
            {
                "row": "greedy - end to end (paired by seed)",
                "budget": budget,
                **stats.flatten("accuracy", comparison, key="diff"),
                "interval": OVER_SEEDS,
                **{k: comparison[k] for k in ("p_t", "p_wilcoxon", "d_z")},
            }
        )
        lines.append(verdict(comparison, budget))
    for row in rows:
        key = row.pop("talk", None)
        row["talk_accuracy"] = talk.get(key) if key else None
    return rows, lines


def _cell(row: Mapping[str, Any]) -> str:
    name, lo, hi, n = ACC
    summary = {"mean": row.get(name), "lo": row.get(lo), "hi": row.get(hi), "n": row.get(n)}
    summary = {k: (np.nan if v is None and k in ("lo", "hi") else v) for k, v in summary.items()}
    if summary["mean"] is None:
        return "–"
    gain = row["row"].startswith("gain")
    digits = 3
    if gain:
        if np.isnan(summary["lo"]):
            return f"{summary['mean']:+.1%} (n={summary['n']}, no interval)"
        return f"{summary['mean']:+.1%} [{summary['lo']:+.1%}, {summary['hi']:+.1%}] n={summary['n']}"
    return stats.cell(summary, digits)


def _p(row: Mapping[str, Any]) -> str:
    if row.get("p_t") is None:
        return "–"
    p_w = row.get("p_wilcoxon")
    return f"{row['p_t']:.3g} / " + ("–" if p_w is None or np.isnan(p_w) else f"{p_w:.3g}")


def _talk(row: Mapping[str, Any]) -> str:
    value = row.get("talk_accuracy")
    if value is None:
        return "–"
    return f"{value:+.1%}" if row["row"].startswith("gain") else f"{value:.3f}"


def tabulate_greedy(
    *,
    selections: Sequence[str | Path],
    out_csv: str | Path,
    out_md: str | Path,
    talk_keys: Mapping[str, str | None],
    test_labels: Mapping[str, np.ndarray],
    finetune: Sequence[str | Path] = (),
    reference: str | Path | None = None,
) -> list[dict]:
    """Write ``greedy.{csv,md}`` from the schemes' ``selection.json`` files (and fine-tuning runs)."""
    ref = load_reference("smalldata", reference)
    by_block: dict[tuple[str, str], dict[str, dict[int, dict]]] = {}
    for sel in _load(selections):
        for key in ("dataset", "arch", "kind", "seed"):
            if key not in sel:
                raise ValueError(f"a selection.json lacks {key!r}: rerun its training rule")
        by_block.setdefault((sel["dataset"], sel["arch"]), {}).setdefault(sel["kind"], {})[sel["seed"]] = sel
    rows, sections, verdicts = [], [], []
    for (dataset, arch), kinds in sorted(by_block.items()):
        if set(kinds) != {"greedy", "full"}:
            raise ValueError(f"{dataset}/{arch}: both schemes are needed, got {sorted(kinds)}")
        if dataset not in test_labels:
            raise ValueError(f"{dataset}: no test labels given for its chance row")
        talk_all = ref["greedy"].get(arch, {})
        talk = {key: (vals or {}).get(talk_keys.get(dataset) or "") for key, vals in talk_all.items()}
        block, lines = block_rows(kinds["greedy"], kinds["full"], stats.chance_accuracy(test_labels[dataset]), talk)
        block = [{"dataset": dataset, "arch": arch, **r} for r in block]
        rows += block
        verdicts += [f"- {dataset}, {arch}: {line}" for line in lines]
        table = [
            {**r, "accuracy_cell": _cell(r), "talk_cell": _talk(r), "budget": r.get("budget") or "–", "p_cell": _p(r)}
            for r in block
        ]
        sections.append(
            (
                f"{dataset}, {arch}",
                markdown_table(
                    table,
                    [
                        "row",
                        "budget",
                        "accuracy_cell",
                        "p_cell",
                        "chosen_stage",
                        "chosen_lr",
                        "best_epoch",
                        "talk_cell",
                    ],
                    [
                        "row",
                        "budget",
                        "test accuracy [95 % CI] n",
                        "p (paired t / Wilcoxon)",
                        "stage per seed",
                        "lr per seed",
                        "epoch per seed",
                        "the talk",
                    ],
                ),
            )
        )
    for f in _load(finetune):
        n = int(f["n_test"])
        summary = stats.proportion_ci(int(round(f["test_accuracy"] * n)), n)
        rows.append(
            {"dataset": f["dataset"], "arch": "finetune", "row": f"Finetuned {f.get('arch', '')}".strip()}
            | stats.flatten("accuracy", summary)
            | {"interval": TEST_SPLIT, "n_train": f.get("n_train"), "n_val": f.get("n_val"), "n_test": n}
        )
    finetuned = [r for r in rows if r["arch"] == "finetune"]
    if finetuned:
        sections.append(
            (
                "Fine-tuned ImageNet model (the talk's fine-tuning baseline; one run)",
                markdown_table(
                    [{**r, "accuracy_cell": _cell(r)} for r in finetuned],
                    ["dataset", "row", "accuracy_cell", "interval"],
                    ["dataset", "model", "test accuracy [95 % CI] n", "interval"],
                ),
            )
        )
    write_csv(out_csv, rows, COLUMNS)
    intro = (
        "Greedy layer-wise training (Lk: conv blocks 1..k, blocks 1..k-1 frozen from the chosen stage k-1) "
        "against end-to-end training (Full Lk), as a fair fight: every stage's learning rate is chosen from "
        "the same grid on a validation split of the training split, the epoch is the best validation epoch, "
        "and each scheme's answer is the stage with the best validation score; the test split is read only "
        "to score the chosen runs. Compute budgets of end-to-end training: per_update = as many epochs as "
        "one greedy stage (every parameter gets as many updates), total = k times as many (the epochs "
        "greedy spent on k stages; learning rate as chosen under the first budget). Numbers: mean test "
        "accuracy over the seeds with its 95 % t interval and n (seeds); greedy and end to end share each "
        "seed (validation split, initialisation), so their difference is paired by seed. '–': not "
        "applicable. The talk's numbers are one run each with the stage picked on the test split.\n\n"
    )
    write_markdown(
        out_md,
        [("About", intro), ("Verdict", "\n".join(verdicts) + "\n\n")] + sections,
        title="Small datasets: greedy layer-wise vs end-to-end training",
    )
    return rows
