"""The time-series tables: test accuracy with its interval and n, the chance row of each
test split, paired comparisons, the validation choice of the image type, and the published
numbers beside ours.

* ``accuracy.{csv,md}`` (+ ``accuracy_runs.csv``, ``comparisons.csv``): the default datasets.
* ``transfer.{csv,md}`` (+ ``transfer_runs.csv``, ``transfer_comparisons.csv``): the
  transfer datasets, run with the settings and image type fixed on the default ones.

Ours: mean over seeds with a Student-t 95 % interval (:func:`cnnpractice.stats.mean_ci`;
n = seeds), which measures training randomness on this test split. The test split's own
sampling error is the Wilson interval ``test_split`` of that mean on ``n_test`` series.
Chance: the majority class of the test split (:func:`cnnpractice.stats.chance_accuracy`;
n = test series). Published numbers are single values from their sources.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from cnnpractice import stats
from cnnpractice.reference import load_reference
from cnnpractice.tables import markdown_table, write_csv, write_markdown
from cnnpractice.timeseries.compare import paired_rows
from cnnpractice.timeseries.selection import accuracy_ci, load_selection, read_validation

PUBLISHED = ("fcn", "resnet", "nn_dtw", "inceptiontime")
KEY = ("dataset", "model", "image")
RUN_COLUMNS = (
    *KEY,
    "seed",
    "test_accuracy",
    "val_acc",
    "val_loss",
    "best_epoch",
    "epochs_run",
    "n_params",
    "n_train",
    "n_val",
    "n_test",
)
COLUMNS = (
    *KEY,
    "selected",
    *stats.columns("test_accuracy"),
    "test_accuracy_sd",
    *stats.columns("test_split"),
    *stats.columns("val_accuracy"),
    "n_params",
    "talk_val_accuracy",
    *PUBLISHED,
    "n_train",
    "n_val",
    "n_test",
)
COMPARISON_COLUMNS = ("family", "dataset", "a", "b", "a_mean", "b_mean", "diff", "lo", "hi", "n", "d_z")
COMPARISON_COLUMNS += ("p_t", "p_wilcoxon", "q")
CHANCE = ("chance", "majority")


def read_runs(results: Sequence[str | Path], validation: Sequence[str | Path] = ()) -> list[dict]:
    """One row per ``test.json`` (one training run), with its validation numbers when the
    run's ``validation.json`` is among ``validation``; ``y_true`` is kept for the chance row."""
    val = {(v["dataset"], v["model"], v["image"], v["seed"]): v for v in read_validation(validation)}
    runs = []
    for path in results:
        res = json.loads(Path(path).read_text())
        for key in (*KEY, "seed", "test_accuracy", "y_true"):
            if key not in res:
                raise ValueError(f"{path}: missing key {key!r}; rerun its training rule")
        row = {k: res.get(k) for k in RUN_COLUMNS}
        v = val.get((res["dataset"], res["model"], res["image"], res["seed"]), {})
        row.update(val_acc=v.get("val_acc"), val_loss=v.get("val_loss"), y_true=res["y_true"])
        runs.append(row)
    runs.sort(key=lambda r: (*(r[k] for k in KEY), r["seed"]))
    return runs


def summarize(runs: list[dict], ref: dict, selected_image: str | None = None) -> list[dict]:
    """One row per (dataset, model, image): the test accuracy over seeds with its interval,
    the test split's Wilson interval, the validation accuracy, sizes and the reference
    numbers; plus one chance row (majority class) per dataset, first."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        groups.setdefault(tuple(run[k] for k in KEY), []).append(run)
    rows, chance_done = [], set()
    for key, members in sorted(groups.items()):
        dataset = key[0]
        published = ref["published"].get(dataset, {})
        common = {k: published.get(k) for k in PUBLISHED} | {k: members[0].get(k) for k in ("n_train", "n_val")}
        n_test = len(members[0]["y_true"])
        if dataset not in chance_done:
            chance_done.add(dataset)
            rows.append(
                dict(zip(KEY, (dataset, *CHANCE)))
                | stats.flatten("test_accuracy", stats.chance_accuracy(members[0]["y_true"]))
                | common
                | {"n_test": n_test}
            )
        acc = accuracy_ci([m["test_accuracy"] for m in members])
        val = accuracy_ci([m["val_acc"] for m in members if m["val_acc"] is not None])
        row = dict(zip(KEY, key)) | common | {"n_test": n_test, "n_params": members[0].get("n_params")}
        row |= stats.flatten("test_accuracy", acc) | {"test_accuracy_sd": acc["sd"] if acc["n"] > 1 else None}
        row |= stats.flatten("test_split", stats.proportion_ci(round(acc["mean"] * n_test), n_test))
        row |= stats.flatten("val_accuracy", val)
        row["talk_val_accuracy"] = ref["talk_validation"].get(dataset, {}).get(key[1])
        row["selected"] = key[2] == selected_image if key[1] == "cnn" else None
        row["_summary"], row["_val"] = acc, val
        rows.append(row)
    rows.sort(key=lambda r: (r["dataset"], (r["model"], r["image"]) != CHANCE))
    return rows


def _config(row: dict) -> str:
    return f"{row['model']}/{row['image']}"


def pivot(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """Datasets as rows, the chance level and every ``model/image`` as columns (value
    [interval] n), then the published numbers."""
    names = sorted({_config(r) for r in rows if (r["model"], r["image"]) != CHANCE})
    table: dict[str, dict] = {}
    for r in rows:
        entry = table.setdefault(r["dataset"], {"dataset": r["dataset"], **{k: r.get(k) for k in PUBLISHED}})
        if (r["model"], r["image"]) == CHANCE:
            entry["chance"] = stats.cell(_unflatten(r, "test_accuracy"))
        else:
            entry[_config(r)] = stats.cell(r["_summary"])
    return [table[d] for d in sorted(table)], ["dataset", "chance", *names, *PUBLISHED]


def _unflatten(row: dict, prefix: str) -> dict:
    name, lo, hi, n = stats.columns(prefix)
    nan = float("nan")
    return {"mean": row[name], "lo": nan if row[lo] is None else row[lo], "hi": nan if row[hi] is None else row[hi]} | {
        "n": row[n]
    }


def comparison_table(comparisons: list[dict], family: str) -> str:
    """Markdown of one comparison family: mean difference [interval] n, effect size, p-values."""
    rows = []
    for c in comparisons:
        if c["family"] != family:
            continue
        rows.append(
            {
                "dataset": c["dataset"],
                "a - b": f"{c['a']} - {c['b']}",
                "a": c["a_mean"],
                "b": c["b_mean"],
                "difference": stats.cell({"mean": c["diff"], "lo": c["lo"], "hi": c["hi"], "n": c["n"]}),
                "d_z": c["d_z"],
                "p (paired t)": c["p_t"],
                "p (Wilcoxon)": c["p_wilcoxon"],
                "q (BH)": c["q"],
            }
        )
    if not rows:
        return "(no such comparison in this run)\n"
    return markdown_table(rows, list(rows[0]))


def long_table(rows: list[dict]) -> str:
    """Markdown of every row: accuracy cells with intervals, sizes, published numbers."""
    md_rows = []
    for r in rows:
        is_chance = (r["model"], r["image"]) == CHANCE
        md_rows.append(
            {
                "dataset": r["dataset"],
                "model/image": _config(r) + (" (chosen)" if r.get("selected") else ""),
                "test accuracy": stats.cell(_unflatten(r, "test_accuracy") if is_chance else r["_summary"]),
                "test split (Wilson)": "–" if is_chance else stats.cell(_unflatten(r, "test_split")),
                "val accuracy": "–" if is_chance else stats.cell(r["_val"]),
                "weights": r.get("n_params"),
                "fcn": r["fcn"],
                "resnet": r["resnet"],
                "n_train": r["n_train"],
                "n_val": r["n_val"],
                "n_test": r["n_test"],
            }
        )
    return markdown_table(md_rows, list(md_rows[0]))


def selection_table(selection: dict | None) -> str:
    if not selection:
        return "(no image CNN in this run)\n"
    rows = [
        {
            "image type": c["image"] + (" (chosen)" if c["image"] == selection["image"] else ""),
            "val accuracy": stats.cell(c["val_acc"]),
            "val loss": stats.cell(c["val_loss"]),
        }
        for c in selection["candidates"]
    ]
    note = (
        f"\nChosen on the validation parts of {', '.join(selection['datasets'])} (seeds "
        f"{', '.join(map(str, selection.get('seeds', [])))}; n = datasets x seeds): {selection['criterion']}. "
        "No test label is read by this choice (tests/test_timeseries_poison.py).\n"
    )
    return markdown_table(rows, ["image type", "val accuracy", "val loss"]) + note


NOTES = (
    "Ours: mean test accuracy over seeds [95 % t interval, clipped to [0, 1]] n = seeds (training randomness on this "
    "test split; `test split (Wilson)` gives the test split's own sampling interval for that mean, "
    "n = test series). Chance: majority class of the test split [Wilson interval], n = test series. "
    "Per seed, every model trains on the same part of the training split (the rest, "
    "`n_val` series, is its validation part) for the same epochs and is tested at its checkpoint "
    "of lowest validation loss. Published: fcn, resnet = Fawaz et al. "
    "(dl-4-tsc, mean of 5 runs, the whole training split, 1500-2000 epochs, the raw series); "
    "nn_dtw = UCR archive 1NN-DTW; inceptiontime = Fawaz et al. 2020.\n"
)


def _write(rows, runs, comparisons, out_csv, out_md, out_runs_csv, out_comparisons_csv, sections, title):
    write_csv(out_csv, rows, COLUMNS)
    if out_runs_csv:
        write_csv(out_runs_csv, runs, RUN_COLUMNS)
    if out_comparisons_csv:
        write_csv(out_comparisons_csv, comparisons, COMPARISON_COLUMNS)
    write_markdown(out_md, sections, title=title)


def _summaries(results, validation, selection, reference, hint: str):
    """What both tables are made of: the runs, the reference, the image-type choice, the
    summary rows, the paired comparisons and the pivot of the rows."""
    runs = read_runs(results, validation)
    if not runs:
        raise ValueError(f"no training results to tabulate: {hint}")
    ref = load_reference("timeseries", reference)
    choice = load_selection(selection)
    image = choice["image"] if choice else None
    rows = summarize(runs, ref, image)
    return runs, ref, choice, image, rows, paired_rows(runs, image), pivot(rows)


def tabulate_accuracy(
    *,
    results: Sequence[str | Path],
    out_csv: str | Path,
    out_md: str | Path,
    validation: Sequence[str | Path] = (),
    selection: str | Path | None = None,
    out_runs_csv: str | Path | None = None,
    out_comparisons_csv: str | Path | None = None,
    reference: str | Path | None = None,
) -> list[dict]:
    """The default datasets' tables (see the module docstring); returns the summary rows."""
    runs, ref, choice, image, rows, comparisons, (prow, pcols) = _summaries(
        results, validation, selection, reference, "enable a model under timeseries.models"
    )
    talk_rows = [{"dataset": d, **v} for d, v in sorted(ref["talk_validation"].items())]
    sections = [
        ("Test accuracy: mean over seeds [95 % interval] n", markdown_table(prow, pcols) + "\n" + NOTES),
        (
            f"Image CNN (image type chosen on validation: {image}) vs the same-protocol FCN and ResNet",
            comparison_table(comparisons, "primary")
            + "\nDifference of test accuracies paired by seed (a - b) [95 % t interval] n = seed pairs; "
            "d_z = mean difference / sd of differences; q = Benjamini-Hochberg over the datasets' p (t). "
            "With n = 3 the Wilcoxon p cannot go below 0.25.\n",
        ),
        ("The image type, chosen on validation data only", selection_table(choice)),
        ("LSTM: 8 values per step vs one value per step (the talk's)", comparison_table(comparisons, "lstm")),
        (
            "Recurrence plots: Eckmann's thresholded (binary) vs the distances",
            comparison_table(comparisons, "rp"),
        ),
        ("Every other image type vs FCN and ResNet (exploratory)", comparison_table(comparisons, "exploratory")),
        ("Every dataset, model and image", long_table(rows)),
        ("The talk's numbers (validation accuracy)", markdown_table(talk_rows, ["dataset", "cnn", "lstm", "vgg"])),
    ]
    _write(
        rows,
        runs,
        comparisons,
        out_csv,
        out_md,
        out_runs_csv,
        out_comparisons_csv,
        sections,
        "Time series as images: accuracy",
    )
    return rows


def tabulate_transfer(
    *,
    results: Sequence[str | Path],
    out_csv: str | Path,
    out_md: str | Path,
    validation: Sequence[str | Path] = (),
    selection: str | Path | None = None,
    out_runs_csv: str | Path | None = None,
    out_comparisons_csv: str | Path | None = None,
    reference: str | Path | None = None,
) -> list[dict]:
    """The transfer datasets' tables: the same columns, the choice made on the default ones."""
    runs, ref, choice, image, rows, comparisons, (prow, pcols) = _summaries(
        results, validation, selection, reference, "set timeseries.transfer.datasets"
    )
    chosen = (
        f"The image CNN uses `{image}`, chosen on the validation parts of {', '.join(choice['datasets'])}; "
        if choice
        else ""
    )
    settings = (
        chosen + "every other setting (epochs, sizes, widths, learning rates, transform parameters) is "
        "the config's, unchanged: nothing was tuned on these datasets.\n\n"
    )
    sections = [
        ("Test accuracy: mean over seeds [95 % interval] n", settings + markdown_table(prow, pcols) + "\n" + NOTES),
        ("Image CNN vs the same-protocol FCN and ResNet", comparison_table(comparisons, "primary")),
        ("Every dataset and model", long_table(rows)),
    ]
    _write(
        rows,
        runs,
        comparisons,
        out_csv,
        out_md,
        out_runs_csv,
        out_comparisons_csv,
        sections,
        "Time series: transfer datasets",
    )
    return rows
