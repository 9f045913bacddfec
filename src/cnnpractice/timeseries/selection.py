"""The one setting the workflow chooses from data: the image type of the image CNN, chosen on
the validation parts of the default datasets' training splits, never on a test split.

Its input is the ``validation.json`` of every CNN run (:func:`.training.validation_summary`:
the checkpoint picked by validation loss and the validation loss/accuracy there); no file
that holds a test label or prediction is read. The choice is then applied unchanged to the
transfer datasets and named in every table.

Rule: the image type with the highest mean validation accuracy over datasets x seeds
(every dataset has the same seeds, so each weighs the same); ties go to the lower mean
validation loss, then to the order of ``timeseries.models.cnn.images``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnpractice.stats import mean_ci

VALIDATION_KEYS = ("dataset", "model", "image", "seed", "best_epoch", "val_loss", "val_acc")
CRITERION = (
    "highest mean validation accuracy (at the checkpoint of lowest validation loss) over the default "
    "datasets x seeds; ties: lower mean validation loss, then config order"
)


def accuracy_ci(values: Sequence[float]) -> dict[str, float] | None:
    """:func:`cnnpractice.stats.mean_ci` of accuracies with the interval clipped to [0, 1] (a
    t interval over a few seeds near 1 would pass it); None for no values."""
    if not len(values):
        return None
    summary = mean_ci(values)
    if summary["n"] < 2:
        return summary
    return summary | {"lo": max(summary["lo"], 0.0), "hi": min(summary["hi"], 1.0)}


def read_validation(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """The ``validation.json`` records of ``paths``; a missing key names the file."""
    records = []
    for path in paths:
        record = json.loads(Path(path).read_text())
        missing = [k for k in VALIDATION_KEYS if k not in record]
        if missing:
            raise ValueError(f"{path}: missing keys {missing}; rerun its training rule")
        records.append(record)
    return records


def select_image(records: Sequence[dict[str, Any]], candidates: Sequence[str], model: str = "cnn") -> dict[str, Any]:
    """Choose ``model``'s image type among ``candidates`` from validation ``records``.

    Every candidate must have runs on the same (dataset, seed) pairs, each with a
    validation accuracy. Returns the choice with every candidate's summary
    (``val_acc`` and ``val_loss``: :func:`cnnpractice.stats.mean_ci` over its runs).
    """
    if not candidates:
        raise ValueError(f"no image types to choose from for {model!r} (timeseries.models.{model}.images)")
    runs = {image: [r for r in records if r["model"] == model and r["image"] == image] for image in candidates}
    keys = {image: sorted((r["dataset"], r["seed"]) for r in rs) for image, rs in runs.items()}
    reference = keys[candidates[0]]
    if not reference:
        raise ValueError(f"no validation records of {model}/{candidates[0]}")
    for image, k in keys.items():
        if k != reference:
            raise ValueError(
                f"{model}/{image} has runs on (dataset, seed) {k}, {model}/{candidates[0]} on {reference}: "
                "every image type needs the same runs to be compared"
            )
    summaries = []
    for order, image in enumerate(candidates):
        acc = [r["val_acc"] for r in runs[image]]
        if any(a is None or (isinstance(a, float) and math.isnan(a)) for a in acc):
            raise ValueError(f"{model}/{image}: a run has no validation accuracy (timeseries.training.val_fraction)")
        summaries.append(
            {
                "image": image,
                "order": order,
                "val_acc": accuracy_ci(acc),
                "val_loss": mean_ci([r["val_loss"] for r in runs[image]]),
            }
        )
    best = min(summaries, key=lambda s: (-s["val_acc"]["mean"], s["val_loss"]["mean"], s["order"]))
    return {
        "model": model,
        "image": best["image"],
        "criterion": CRITERION,
        "datasets": sorted({d for d, _ in reference}),
        "seeds": sorted({s for _, s in reference}),
        "candidates": [{k: v for k, v in s.items() if k != "order"} for s in summaries],
    }


def select_to_json(*, validation: Sequence[str | Path], candidates: Sequence[str], out_json: str | Path) -> dict:
    """:func:`select_image` of the ``validation.json`` files, written to ``out_json``."""
    from cnnpractice.io import write_json

    choice = select_image(read_validation(validation), list(candidates))
    write_json(out_json, choice)
    return choice


def load_selection(path: str | Path | None) -> dict[str, Any] | None:
    """A selection written by :func:`select_to_json` (None for no path)."""
    if not path:
        return None
    choice = json.loads(Path(path).read_text())
    for key in ("model", "image", "criterion", "datasets", "candidates"):
        if key not in choice:
            raise ValueError(f"{path}: missing key {key!r}; rerun rule select_timeseries_image")
    return choice
