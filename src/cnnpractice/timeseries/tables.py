"""The time-series accuracy table: our test accuracy beside the talk's and published numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from cnnpractice.reference import load_reference
from cnnpractice.tables import markdown_table, write_csv, write_markdown

PUBLISHED = ("fcn", "resnet", "nn_dtw", "inceptiontime")
COLUMNS = ("dataset", "model", "image", "test_accuracy", "vs_fcn", "talk_val_accuracy", *PUBLISHED,
           "n_train", "n_val", "n_test", "best_epoch", "epochs_run")


def _reference(path: str | Path | None) -> dict:
    if path is None:
        return load_reference("timeseries")
    import yaml

    return yaml.safe_load(Path(path).read_text())


def collect_rows(results: Sequence[str | Path], reference: str | Path | None = None) -> list[dict]:
    """One row per ``test.json``, with the reference numbers of its dataset and model.

    ``reference``: the YAML of published/talk numbers (default: the package's copy).
    """
    ref = _reference(reference)
    rows = []
    for path in results:
        res = json.loads(Path(path).read_text())
        for key in ("dataset", "model", "image", "test_accuracy"):
            if key not in res:
                raise ValueError(f"{path}: missing key {key!r}; rerun its training rule")
        published = ref["published"].get(res["dataset"], {})
        row = {k: res.get(k) for k in COLUMNS if k in res}
        row["talk_val_accuracy"] = ref["talk_validation"].get(res["dataset"], {}).get(res["model"])
        row.update({k: published.get(k) for k in PUBLISHED})
        row["vs_fcn"] = None if published.get("fcn") is None else res["test_accuracy"] - published["fcn"]
        rows.append(row)
    rows.sort(key=lambda r: (r["dataset"], r["model"], r["image"]))
    return rows


def pivot(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """Datasets as rows, ``model/image`` runs as columns, then the published numbers."""
    runs = sorted({f"{r['model']}/{r['image']}" for r in rows})
    table: dict[str, dict] = {}
    for r in rows:
        entry = table.setdefault(r["dataset"], {"dataset": r["dataset"], **{k: r.get(k) for k in PUBLISHED}})
        entry[f"{r['model']}/{r['image']}"] = r["test_accuracy"]
    return [table[d] for d in sorted(table)], ["dataset", *runs, *PUBLISHED]


def tabulate_accuracy(*, results: Sequence[str | Path], out_csv: str | Path, out_md: str | Path,
                      reference: str | Path | None = None) -> list[dict]:
    """Write ``accuracy.csv`` (one row per run) and ``accuracy.md`` (pivot + long table)."""
    rows = collect_rows(results, reference)
    write_csv(out_csv, rows, COLUMNS)
    prow, pcols = pivot(rows)
    talk = _reference(reference)["talk_validation"]
    talk_rows = [{"dataset": d, **v} for d, v in sorted(talk.items())]
    sections = [
        ("Test accuracy by dataset and run (model/image), published results beside",
         markdown_table(prow, pcols)
         + "\nPublished: fcn, resnet = Fawaz et al. (dl-4-tsc, mean of 5 runs); nn_dtw = UCR archive "
           "1NN-DTW; inceptiontime = Fawaz et al. 2020. All on the default UCR train/test split.\n"),
        ("Every run", markdown_table(rows, COLUMNS)
         + "\n`vs_fcn` = our test accuracy minus the published FCN's. `talk_val_accuracy` is the "
           "talk's *validation* accuracy for that model (TensorBoard, last step), not a test score.\n"),
        ("The talk's numbers (validation accuracy)", markdown_table(talk_rows, ["dataset", "cnn", "lstm", "vgg"])),
    ]
    write_markdown(out_md, sections, title="Time series as images: accuracy")
    return rows
