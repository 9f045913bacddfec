"""The numbers of the elves tables, each with its n and a 95 % interval (:mod:`cnnpractice.stats`).

* :func:`error_cells` - median and 68 % quantile of per-event errors with bootstrap
  intervals. A failed reconstruction counts as :data:`FAILED` (worse than any estimate), so
  the quantiles say how often a method fails, not only how well it does when it works.
* :func:`median_difference` - median(a) - median(b) of two methods on the same events, with a
  paired bootstrap interval (events resampled together): the test behind "A beats B".
* :func:`spearman` - Spearman's rank correlation with a bootstrap interval.
* :func:`detection_rows` - per class precision and recall (Wilson intervals) and F1
  (bootstrap over events), macro-F1 and accuracy, the majority-class chance row and a
  label-permutation null of macro-F1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from cnnpractice import stats

FAILED = 1.0e6  # the error of a failed fit (km, or relative current error)
NULL_PERMUTATIONS = 999


def with_failures(values) -> np.ndarray:
    """Errors as floats, NaN and inf (a failed reconstruction) replaced by :data:`FAILED`."""
    arr = np.asarray(values, dtype=float)
    return np.where(np.isfinite(arr), arr, FAILED)


def order_quantile(q: float):
    """The ``q`` quantile as an order statistic (``inverted_cdf``, no interpolation), so a
    failure is never averaged with a success; vectorised for :func:`stats.bootstrap_ci`."""

    def statistic(x, axis=-1):
        return np.quantile(x, q, axis=axis, method="inverted_cdf")

    return statistic


def error_cells(values, seed: int) -> dict[str, dict[str, float] | None]:
    """``median`` and ``q68`` (68 % quantile; order statistics) of errors with bootstrap
    intervals (None for no events)."""
    arr = with_failures(values)
    if not len(arr):
        return {"median": None, "q68": None}
    return {
        "median": stats.bootstrap_ci(arr, order_quantile(0.5), seed=seed),
        "q68": stats.bootstrap_ci(arr, order_quantile(0.68), seed=seed),
    }


def median_difference(a, b, seed: int) -> dict[str, float] | None:
    """median(a) - median(b) for paired errors of two methods on the same events, with a
    paired bootstrap interval (indices resampled, so each event keeps both its errors)."""
    a, b = with_failures(a), with_failures(b)
    if len(a) != len(b):
        raise ValueError(f"paired errors need equal lengths, got {len(a)} and {len(b)}")
    if not len(a):
        return None

    median = order_quantile(0.5)

    def statistic(index, axis=-1):
        index = np.asarray(index).astype(int)
        return median(a[index], axis=axis) - median(b[index], axis=axis)

    return stats.bootstrap_ci(np.arange(len(a), dtype=float), statistic, seed=seed)


def spearman(x, y, seed: int) -> dict[str, float] | None:
    """Spearman's rank correlation of paired samples with a bootstrap interval."""
    from scipy.stats import rankdata

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3:
        return None

    def statistic(index, axis=-1):
        index = np.asarray(index).astype(int)
        rx, ry = rankdata(x[index], axis=axis), rankdata(y[index], axis=axis)
        rx = rx - rx.mean(axis=axis, keepdims=True)
        ry = ry - ry.mean(axis=axis, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (rx * ry).sum(axis=axis) / np.sqrt((rx**2).sum(axis=axis) * (ry**2).sum(axis=axis))
        return np.nan_to_num(r)

    return stats.bootstrap_ci(np.arange(len(x), dtype=float), statistic, seed=seed)


def _f1(y_true: np.ndarray, y_pred: np.ndarray, k: int, axis=-1):
    tp = ((y_true == k) & (y_pred == k)).sum(axis=axis)
    denominator = (y_true == k).sum(axis=axis) + (y_pred == k).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2.0 * tp / np.maximum(denominator, 1), np.nan)


def macro_f1(y_true, y_pred, classes: Sequence[int], axis=-1):
    """Mean F1 over ``classes`` (those present in the test split)."""
    return np.nanmean(np.stack([_f1(y_true, y_pred, k, axis) for k in classes]), axis=0)


def _bootstrap_f1(y_true, y_pred, classes, seed):
    def statistic(index, axis=-1):
        index = np.asarray(index).astype(int)
        return macro_f1(y_true[index], y_pred[index], classes, axis)

    return stats.bootstrap_ci(np.arange(len(y_true), dtype=float), statistic, seed=seed)


def detection_rows(y_true, y_pred, class_names: Sequence[str], seed: int) -> tuple[list[dict], dict[str, Any]]:
    """Per class present in the test split: precision and recall with Wilson intervals, F1
    with a bootstrap interval, counts. Summary: ``accuracy``, ``macro_f1``, ``chance``
    (always the majority class: its accuracy and macro-F1) and ``null`` (macro-F1 when the
    predictions are shuffled against the labels: the 2.5/50/97.5 % of NULL_PERMUTATIONS
    shuffles and the permutation p-value of the observed macro-F1)."""
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    present = [k for k in range(len(class_names)) if (y_true == k).any()]
    rows = []
    for k in present:
        tp = int(((y_true == k) & (y_pred == k)).sum())
        n_true, n_pred = int((y_true == k).sum()), int((y_pred == k).sum())

        def statistic(index, axis=-1, k=k):
            index = np.asarray(index).astype(int)
            return _f1(y_true[index], y_pred[index], k, axis)

        rows.append(
            {
                "class": class_names[k],
                "precision": stats.proportion_ci(tp, n_pred) if n_pred else None,
                "recall": stats.proportion_ci(tp, n_true),
                "f1": stats.bootstrap_ci(np.arange(len(y_true), dtype=float), statistic, seed=seed),
                "n_true": n_true,
                "n_predicted": n_pred,
            }
        )
    majority = int(np.bincount(y_true).argmax())
    chance_pred = np.full_like(y_true, majority)
    rng = np.random.default_rng(seed)
    null = np.array([macro_f1(y_true, rng.permutation(y_pred), present) for _ in range(NULL_PERMUTATIONS)])
    observed = float(macro_f1(y_true, y_pred, present))
    summary = {
        "accuracy": stats.proportion_ci(int((y_true == y_pred).sum()), len(y_true)),
        "macro_f1": _bootstrap_f1(y_true, y_pred, present, seed),
        "chance": {
            "class": class_names[majority],
            "accuracy": stats.chance_accuracy(y_true),
            "macro_f1": _bootstrap_f1(y_true, chance_pred, present, seed),
        },
        "null": {
            "median": float(np.median(null)),
            "lo": float(np.quantile(null, 0.025)),
            "hi": float(np.quantile(null, 0.975)),
            "n": NULL_PERMUTATIONS,
            "p": stats.empirical_p(observed, null),
        },
    }
    return rows, summary


def subset_recall(y_true, y_pred, mask, k: int) -> dict[str, float] | None:
    """Recall of class ``k`` on the events of ``mask`` (Wilson interval); None if none."""
    y_true, y_pred, mask = np.asarray(y_true), np.asarray(y_pred), np.asarray(mask, bool)
    chosen = mask & (y_true == k)
    if not chosen.any():
        return None
    return stats.proportion_ci(int((y_pred[chosen] == k).sum()), int(chosen.sum()))


def failed_cell(summary: dict[str, float] | None, digits: int = 2, big: str = "failed") -> str:
    """:func:`cnnpractice.stats.cell`, with numbers as large as a failure (|x| >= FAILED / 2)
    written as ``big`` (``failed`` for errors; ``inf`` for differences, signed)."""
    if summary is None:
        return "–"

    def number(x):
        if x is None or math.isnan(x):
            return None
        if abs(x) >= FAILED / 2:
            return big if x > 0 or big == "failed" else f"-{big}"
        return f"{x:.{digits}f}"

    value = number(summary.get("value", summary.get("mean")))
    lo, hi, n = number(summary.get("lo")), number(summary.get("hi")), summary.get("n")
    if value is None:
        return "–"
    if lo is None or hi is None:
        return f"{value} (n={n}, no interval)"
    return f"{value} [{lo}, {hi}] n={n}"
