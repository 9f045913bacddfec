"""Shared readers, comparisons and intervals of the end-to-end table checks, and the edits
that show each check can fail."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import stats as sps

from cnnpractice.stats import proportion_ci

REL = 1e-9


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def num(cell: str | None) -> float:
    """A CSV cell as a float; empty cells are NaN."""
    return math.nan if cell in (None, "") else float(cell)


def same(cell: str | None, value, where: str) -> None:
    """The table's ``cell`` equals the recomputed ``value`` (NaN/None equal an empty cell)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        assert cell in ("", None) or math.isnan(num(cell)), f"{where}: written {cell!r}, recomputed nothing"
        return
    assert cell not in ("", None), f"{where}: written empty, recomputed {value!r}"
    if isinstance(value, str):
        assert cell == value, f"{where}: written {cell!r}, recomputed {value!r}"
        return
    assert math.isclose(num(cell), float(value), rel_tol=REL, abs_tol=1e-12), (
        f"{where}: written {cell}, recomputed {value!r}"
    )


def t_interval(values: Sequence[float], clip: bool = False) -> dict:
    """Mean, 95 % Student-t interval, sd and n of ``values`` (no interval for n = 1)."""
    x = np.asarray(values, dtype=float)
    n, mean = x.size, float(x.mean())
    if n < 2:
        return {"mean": mean, "lo": math.nan, "hi": math.nan, "sd": math.nan, "n": n}
    sd = float(x.std(ddof=1))
    if sd == 0:
        lo = hi = mean
    else:
        lo, hi = sps.t.interval(0.95, n - 1, loc=mean, scale=sd / math.sqrt(n))
    if clip:
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    return {"mean": mean, "lo": float(lo), "hi": float(hi), "sd": sd, "n": n}


def same_summary(row: dict, prefix: str, summary: dict, where: str) -> None:
    """``<prefix>``, ``_ci_low``, ``_ci_high`` and ``_n`` of ``row`` equal ``summary``."""
    same(row[prefix], summary["mean"], f"{where} {prefix}")
    same(row[f"{prefix}_ci_low"], summary["lo"], f"{where} {prefix}_ci_low")
    same(row[f"{prefix}_ci_high"], summary["hi"], f"{where} {prefix}_ci_high")
    assert row[f"{prefix}_n"] == str(summary["n"]), f"{where} {prefix}_n: {row[f'{prefix}_n']} != {summary['n']}"


def majority(y: Sequence[int]) -> dict:
    """Always the majority class: its share of ``y`` with the Wilson interval."""
    _, counts = np.unique(np.asarray(y), return_counts=True)
    return proportion_ci(int(counts.max()), int(len(y)))


def above_chance(correct: int, n: int, chance: float, where: str, alpha: float = 0.01) -> float:
    """One-sided binomial test of ``correct`` of ``n`` against the chance rate; returns p."""
    p = float(sps.binomtest(int(correct), int(n), chance, alternative="greater").pvalue)
    assert p < alpha, f"{where}: {correct}/{n} correct is not above chance {chance:.3f} (binomial p = {p:.3g})"
    return p


# --- can the checks fail? ----------------------------------------------------------------


def edit_csv_cell(path: Path, match: dict[str, str], column: str, change) -> None:
    """Rewrite ``column`` of the first row of ``path`` whose cells equal ``match``."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    (row,) = [r for r in rows if all(r[k] == v for k, v in match.items())][:1]
    row[column] = change(row[column])
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def assert_catches(path: Path, edit, check) -> str:
    """Apply ``edit(path)`` to a finished run's file, assert ``check()`` then fails, and put
    the file back; returns the failure's message."""
    original = path.read_bytes()
    try:
        edit(path)
        try:
            check()
        except AssertionError as err:
            return str(err)
        raise AssertionError(f"editing {path} went unnoticed")
    finally:
        path.write_bytes(original)
