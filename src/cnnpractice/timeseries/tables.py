"""The time-series accuracy table: our test accuracy beside the talk's and published numbers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cnnpractice.reference import load_reference
from cnnpractice.tables import markdown_table, write_csv, write_markdown

PUBLISHED = ("fcn", "resnet", "nn_dtw", "inceptiontime")
KEY = ("dataset", "model", "image")
RUN_COLUMNS = (*KEY, "seed", "test_accuracy", "n_train", "n_val", "n_test", "best_epoch", "epochs_run")
COLUMNS = (
    *KEY,
    "test_accuracy",
    "test_accuracy_std",
    "runs",
    "vs_fcn",
    "talk_val_accuracy",
    *PUBLISHED,
    "n_train",
    "n_val",
    "n_test",
)


def read_runs(results: Sequence[str | Path]) -> list[dict]:
    """One row per ``test.json`` (one training run)."""
    runs = []
    for path in results:
        res = json.loads(Path(path).read_text())
        for key in (*KEY, "test_accuracy"):
            if key not in res:
                raise ValueError(f"{path}: missing key {key!r}; rerun its training rule")
        runs.append({k: res.get(k) for k in RUN_COLUMNS})
    runs.sort(key=lambda r: tuple(r[k] for k in KEY) + (r["seed"] or 0,))
    return runs


def summarize(runs: list[dict], ref: dict) -> list[dict]:
    """Mean and standard deviation (ddof=1; 0 for one run) of the test accuracy per
    (dataset, model, image), with the reference numbers (``ref``, the loaded reference
    YAML) of its dataset and model."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        groups.setdefault(tuple(run[k] for k in KEY), []).append(run)
    rows = []
    for key, members in sorted(groups.items()):
        acc = np.array([m["test_accuracy"] for m in members], dtype=float)
        row = dict(zip(KEY, key))
        row.update(
            test_accuracy=float(acc.mean()),
            test_accuracy_std=float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
            runs=len(acc),
            **{k: members[0].get(k) for k in ("n_train", "n_val", "n_test")},
        )
        published = ref["published"].get(row["dataset"], {})
        row["talk_val_accuracy"] = ref["talk_validation"].get(row["dataset"], {}).get(row["model"])
        row.update({k: published.get(k) for k in PUBLISHED})
        row["vs_fcn"] = None if published.get("fcn") is None else row["test_accuracy"] - published["fcn"]
        rows.append(row)
    return rows


def pivot(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """Datasets as rows, ``model/image`` runs as columns ("mean ± std" over repeats), then
    the published numbers."""
    names = sorted({f"{r['model']}/{r['image']}" for r in rows})
    table: dict[str, dict] = {}
    for r in rows:
        entry = table.setdefault(r["dataset"], {"dataset": r["dataset"], **{k: r.get(k) for k in PUBLISHED}})
        cell = f"{r['test_accuracy']:.3f}"
        if r["runs"] > 1:
            cell += f" ± {r['test_accuracy_std']:.3f}"
        entry[f"{r['model']}/{r['image']}"] = cell
    return [table[d] for d in sorted(table)], ["dataset", *names, *PUBLISHED]


def tabulate_accuracy(
    *,
    results: Sequence[str | Path],
    out_csv: str | Path,
    out_md: str | Path,
    out_runs_csv: str | Path | None = None,
    reference: str | Path | None = None,
) -> list[dict]:
    """Write ``accuracy.csv`` (one row per dataset, model and image: mean and std over
    repeats), ``accuracy.md`` (pivot + long table) and, if asked, every run's row."""
    runs = read_runs(results)
    if not runs:
        raise ValueError("no training results to tabulate: enable a model under timeseries.models")
    ref = load_reference("timeseries", reference)
    rows = summarize(runs, ref)
    write_csv(out_csv, rows, COLUMNS)
    if out_runs_csv:
        write_csv(out_runs_csv, runs, RUN_COLUMNS)
    prow, pcols = pivot(rows)
    talk = ref["talk_validation"]
    talk_rows = [{"dataset": d, **v} for d, v in sorted(talk.items())]
    n_runs = sorted({r["runs"] for r in rows})
    sections = [
        (
            "Test accuracy by dataset and run (model/image), published results beside",
            markdown_table(prow, pcols)
            + f"\nOurs: mean{' ± std' if max(n_runs) > 1 else ''} of {'/'.join(map(str, n_runs))} "
            "training run(s) with different seeds. Published: fcn, resnet = Fawaz et al. "
            "(dl-4-tsc, mean of 5 runs); nn_dtw = UCR archive 1NN-DTW; inceptiontime = Fawaz et "
            "al. 2020. All on the default UCR train/test split.\n",
        ),
        (
            "Every dataset, model and image",
            markdown_table(rows, COLUMNS)
            + "\n`vs_fcn` = our mean test accuracy minus the published FCN's. `talk_val_accuracy` is "
            "the talk's *validation* accuracy for that model (TensorBoard, last step), not a test "
            "score.\n",
        ),
        ("The talk's numbers (validation accuracy)", markdown_table(talk_rows, ["dataset", "cnn", "lstm", "vgg"])),
    ]
    write_markdown(out_md, sections, title="Time series as images: accuracy")
    return rows
