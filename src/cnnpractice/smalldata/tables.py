"""The small-datasets tables: greedy vs end-to-end training, learned vs engineered features.

``greedy.{csv,md}`` follows the talk's layout: one block per architecture, rows
L1..L5 (greedy stages), Full Lk (end to end), and the gain, columns the datasets
with the talk's number beside ours where the talk has that dataset. The gain is
``(best greedy L - best Full L) / best Full L``: it reproduces the talk's last row
(e.g. AlexNet on Flowers: 0.805 / 0.706 - 1 = +14.0 %).

``features.{csv,md}``: feature set x dataset, test accuracy of each classifier
(and ROC AUC for binary datasets).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnpractice.reference import load_reference
from cnnpractice.tables import markdown_table, write_csv, write_markdown

GREEDY_COLUMNS = ("arch", "row", "dataset", "accuracy", "talk_accuracy", "n_train", "n_test", "epochs_run")
FEATURE_COLUMNS = (
    "dataset",
    "feature_set",
    "classifier",
    "accuracy",
    "auc",
    "best_C",
    "cv_accuracy",
    "n_features",
    "n_train",
    "n_test",
)
ENGINEERED_ORDER = ("hog", "hgd", "hcfeats", "decaf_fc6", "decaf_fc7")


def _load(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        data = json.loads(Path(path).read_text())
        rows.extend(data if isinstance(data, list) else [data])
    return rows


def _row_name(result: dict) -> str:
    return f"L{result['stage']}" if result["kind"] == "greedy" else f"Full L{result['stage']}"


def _row_order(name: str) -> tuple:
    if name == "gain":
        return (3, 0)
    if name.startswith("Full"):
        return (1, int(name[-1]))
    if name.startswith("Fine"):
        return (2, 0)
    return (0, int(name[1:]))


def _talk_key(name: str) -> str:
    return "gain" if name == "gain" else (f"full_{name[5:]}" if name.startswith("Full") else name)


def greedy_rows(results: list[dict], talk_keys: dict[str, str | None], ref: dict) -> list[dict]:
    """Long-format rows (arch, row, dataset, accuracy, talk_accuracy) including the gain."""
    rows = []
    by_arch: dict[str, dict[str, dict[str, dict]]] = {}
    for res in results:
        for key in ("arch", "kind", "stage", "dataset", "test_accuracy"):
            if key not in res:
                raise ValueError(f"a small-data result lacks {key!r}: rerun its training rule ({res.get('dataset')})")
        by_arch.setdefault(res["arch"], {}).setdefault(_row_name(res), {})[res["dataset"]] = res
    for arch in sorted(by_arch):
        table = by_arch[arch]
        datasets = sorted({d for cells in table.values() for d in cells})
        gains = {}
        for ds in datasets:
            greedy = [c[ds]["test_accuracy"] for n, c in table.items() if n.startswith("L") and ds in c]
            full = [c[ds]["test_accuracy"] for n, c in table.items() if n.startswith("Full") and ds in c]
            gains[ds] = (max(greedy) / max(full) - 1.0) if greedy and full and max(full) > 0 else None
        names = sorted(table, key=_row_order) + (["gain"] if any(v is not None for v in gains.values()) else [])
        for name in names:
            for ds in datasets:
                talk = (ref["greedy"].get(arch, {}).get(_talk_key(name), {}) or {}).get(talk_keys.get(ds) or "")
                if name == "gain":
                    rows.append(
                        {"arch": arch, "row": name, "dataset": ds, "accuracy": gains[ds], "talk_accuracy": talk}
                    )
                    continue
                res = table[name].get(ds)
                rows.append(
                    {
                        "arch": arch,
                        "row": name,
                        "dataset": ds,
                        "talk_accuracy": talk,
                        **({} if res is None else {k: res.get(k) for k in ("n_train", "n_test", "epochs_run")}),
                        "accuracy": None if res is None else res["test_accuracy"],
                    }
                )
    return rows


def _cell(value: Any, gain: bool) -> str:
    if value is None:
        return "–"
    return f"{value:+.1%}" if gain else f"{value:.3f}"


def greedy_markdown(rows: list[dict], finetune: list[dict]) -> list[tuple[str, str]]:
    sections = []
    for arch in sorted({r["arch"] for r in rows}):
        mine = [r for r in rows if r["arch"] == arch]
        datasets = sorted({r["dataset"] for r in mine})
        with_talk = [d for d in datasets if any(r["talk_accuracy"] is not None for r in mine if r["dataset"] == d)]
        columns = ["row"]
        for d in datasets:
            columns.append(d)
            if d in with_talk:
                columns.append(f"{d} (talk)")
        table = []
        for name in sorted({r["row"] for r in mine}, key=_row_order):
            entry = {"row": name}
            for r in mine:
                if r["row"] == name:
                    entry[r["dataset"]] = _cell(r["accuracy"], name == "gain")
                    entry[f"{r['dataset']} (talk)"] = _cell(r["talk_accuracy"], name == "gain")
            table.append(entry)
        sections.append((arch, markdown_table(table, columns)))
    if finetune:
        table = [{"dataset": f["dataset"], "arch": f.get("arch"), "accuracy": f["test_accuracy"]} for f in finetune]
        sections.append(
            (
                "Fine-tuned ImageNet model (the talk's finetuning baseline)",
                markdown_table(table, ["dataset", "arch", "accuracy"]),
            )
        )
    return sections


def tabulate_greedy(
    *,
    results: Sequence[str | Path],
    out_csv: str | Path,
    out_md: str | Path,
    talk_keys: dict[str, str | None],
    finetune: Sequence[str | Path] = (),
    reference: str | Path | None = None,
) -> list[dict]:
    """Write ``greedy.{csv,md}`` from the stage ``test.json`` files (and fine-tuning runs)."""
    ref = load_reference("smalldata", reference)
    rows = greedy_rows(_load(results), talk_keys, ref)
    ft = _load(finetune)
    for f in ft:
        rows.append(
            {
                "arch": "finetune",
                "row": f"Finetuned {f.get('arch', '')}".strip(),
                "dataset": f["dataset"],
                "accuracy": f["test_accuracy"],
                "n_train": f.get("n_train"),
                "n_test": f.get("n_test"),
            }
        )
    write_csv(out_csv, rows, GREEDY_COLUMNS)
    intro = (
        "Test accuracy of greedy layer-wise training (L1..L5: conv blocks 1..k, blocks 1..k-1 frozen "
        "from stage k-1) and end-to-end training (Full Lk). gain = best L / best Full L - 1. "
        "'(talk)' columns: the talk's numbers for the same dataset.\n\n"
    )
    write_markdown(
        out_md,
        [("About", intro)] + greedy_markdown([r for r in rows if r["arch"] != "finetune"], ft),
        title="Small datasets: greedy layer-wise vs end-to-end training",
    )
    return rows


def _feature_order(name: str) -> tuple:
    return (0, ENGINEERED_ORDER.index(name), "") if name in ENGINEERED_ORDER else (1, 0, name)


def tabulate_features(
    *, scores: Sequence[str | Path], out_csv: str | Path, out_md: str | Path, reference: str | Path | None = None
) -> list[dict]:
    """Write ``features.{csv,md}`` from the per-feature-set score files of ``classify``."""
    ref = load_reference("smalldata", reference)
    rows = sorted(_load(scores), key=lambda r: (r["dataset"], _feature_order(r["feature_set"]), r["classifier"]))
    write_csv(out_csv, rows, FEATURE_COLUMNS)
    datasets = sorted({r["dataset"] for r in rows})
    classifiers = sorted({r["classifier"] for r in rows})
    binary = {d for d in datasets if any(r["dataset"] == d and r.get("auc") is not None for r in rows)}
    columns = ["feature_set"]
    for d in datasets:
        for c in classifiers:
            columns.append(f"{d} {c}")
            if d in binary:
                columns.append(f"{d} {c} AUC")
    table: dict[str, dict] = {}
    for r in rows:
        entry = table.setdefault(r["feature_set"], {"feature_set": r["feature_set"]})
        entry[f"{r['dataset']} {r['classifier']}"] = r["accuracy"]
        entry[f"{r['dataset']} {r['classifier']} AUC"] = r.get("auc")
    ordered = [table[k] for k in sorted(table, key=_feature_order)]
    notes = (
        "Test accuracy of linear classifiers (C chosen by cross-validation on the training split "
        "only) on each feature set. Learned sets are named <arch>_<greedy|full>_conv<b>: the "
        "global-average-pooled output of conv block b.\n\n"
    )
    published = ref.get("fashion_mnist", {})
    if "fashion_mnist" in datasets and published:
        notes += (
            "Published Fashion-MNIST results on the full 60k training set (zalandoresearch README): "
            + ", ".join(f"{k} {v:.3f}" for k, v in published.items())
            + ".\n\n"
        )
    write_markdown(
        out_md,
        [("About", notes), ("Accuracy", markdown_table(ordered, columns))],
        title="Small datasets: learned vs engineered features",
    )
    return rows
