"""Result tables as CSV (for machines) and Markdown (for people), written atomically."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnpractice.io import atomic_path, write_text


def format_cell(value: Any, digits: int = 3) -> str:
    """Markdown rendering of one cell: floats rounded, missing values as an en dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], headers: Sequence[str] | None = None, digits: int = 3
) -> str:
    """A GitHub-flavoured Markdown table of ``rows`` restricted to ``columns``."""
    headers = list(headers or columns)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(format_cell(row.get(c), digits) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def write_csv(path: str | Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Write ``rows`` (dicts) as CSV with the given column order; missing cells are empty."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: ("" if row.get(c) is None else row.get(c)) for c in columns})


def write_markdown(path: str | Path, sections: Sequence[tuple[str, str]], title: str | None = None) -> None:
    """Write a Markdown document of (heading, body) sections."""
    parts = [f"# {title}\n"] if title else []
    for heading, body in sections:
        parts.append(f"## {heading}\n\n{body}")
    write_text(path, "\n".join(parts))
