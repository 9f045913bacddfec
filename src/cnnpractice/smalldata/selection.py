"""Model selection on validation data only: the epoch, the learning rate and the stage.

Every choice the small-data study makes between trained networks reads one number per
network, its *validation score*: the monitored validation metric (``val_loss`` by default,
``val_acc`` when configured) at the epoch the training runner kept (its best validation
epoch). Nothing here sees a test split; ``tests/test_smalldata_selection.py`` checks that
permuting the test labels leaves every choice unchanged (the "poison" test).

* :func:`validation_score` -- a finished run's score, from its epoch history.
* :func:`best_index` -- the best of several scores (ties: the first, i.e. the smaller
  learning rate or the shallower stage, as listed).
* :func:`lr_candidates` -- the learning rates a stage tries.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MONITORS = ("val_loss", "val_acc")


def _check_monitor(monitor: str) -> None:
    if monitor not in MONITORS:
        raise ValueError(
            f"selection needs a validation metric ({MONITORS}), got {monitor!r}: set training.val_fraction > 0"
        )


def validation_score(metrics_csv: str | Path, best_epoch: int, monitor: str) -> dict[str, Any]:
    """The validation metrics of epoch ``best_epoch`` of a run (its ``metrics.csv``).

    Returns ``{"score", "val_loss", "val_acc", "best_epoch", "epochs_run"}``; ``score`` is
    the ``monitor`` value. A run without validation rows (``val_fraction`` 0) is an error:
    a choice between runs would then read training or test numbers.
    """
    _check_monitor(monitor)
    with open(metrics_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_epoch = {int(r["epoch"]): r for r in rows}
    if best_epoch not in by_epoch:
        raise ValueError(f"{metrics_csv}: no row for epoch {best_epoch}")
    row = by_epoch[best_epoch]
    values = {key: float(row[key]) if row.get(key) not in (None, "") else math.nan for key in MONITORS}
    if math.isnan(values[monitor]):
        raise ValueError(f"{metrics_csv}: epoch {best_epoch} has no {monitor}; selection needs a validation split")
    return {"score": values[monitor], **values, "best_epoch": int(best_epoch), "epochs_run": len(rows)}


def best_index(scores: Sequence[float], monitor: str) -> int:
    """Index of the best score (lowest loss / highest accuracy); ties go to the first.

    >>> best_index([0.5, 0.4, 0.4], "val_loss"), best_index([0.5, 0.7, 0.7], "val_acc")
    (1, 1)
    """
    _check_monitor(monitor)
    if not scores:
        raise ValueError("nothing to choose from")
    if any(math.isnan(s) for s in scores):
        raise ValueError(f"a validation score is NaN: {list(scores)}")
    sign = 1.0 if monitor == "val_loss" else -1.0
    return min(range(len(scores)), key=lambda i: (sign * scores[i], i))


def lr_candidates(lr_grid: Sequence[float] | None, training: Mapping[str, Any], fixed: bool = False) -> list[float]:
    """The learning rates a stage tries: ``lr_grid`` (sorted, duplicates removed), or the
    stage's own ``training["lr"]`` when there is no grid or the stage fixes its lr
    (``fixed``: e.g. ``smalldata.greedy.stage_training.L4.lr``)."""
    if fixed or not lr_grid:
        return [float(training["lr"])]
    grid = sorted({float(lr) for lr in lr_grid})
    if grid[0] <= 0:
        raise ValueError(f"smalldata.greedy.lr_grid: learning rates must be positive, got {list(lr_grid)}")
    return grid
