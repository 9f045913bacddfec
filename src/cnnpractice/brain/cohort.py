"""The brain study's cohort: the synthetic one or OASIS-1, as the table ``subjects.csv``
(``subject,label,group,volume``) that every later stage reads."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cnnpractice.io import write_json


def read_cohort(path: str | Path) -> list[dict[str, str]]:
    """Rows of a cohort's ``subjects.csv``: columns ``subject,label,group,volume`` (more
    allowed), labels 0/1, unique subjects, both classes present."""
    path = Path(path)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    need = {"subject", "label", "group", "volume"}
    if not rows or not need <= set(rows[0]):
        raise ValueError(f"{path}: expected a CSV with columns {sorted(need)} and one row per subject")
    bad = [r["subject"] for r in rows if r["label"] not in ("0", "1")]
    if bad:
        raise ValueError(f"{path}: label must be 0 or 1; subjects {bad[:5]} have other values")
    ids = [r["subject"] for r in rows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate subject ids")
    if len({r["label"] for r in rows}) < 2:
        raise ValueError(f"{path}: both classes (label 0 and 1) are needed")
    return rows


def make_cohort(
    *, settings: Mapping[str, Any], template_dir: str | Path, out_dir: str | Path, raw_dir: str | Path, seed: int
) -> dict[str, Any]:
    """The cohort of ``settings["source"]``: the synthetic one (:mod:`.synth`), or OASIS-1
    subjects selected from the downloaded discs (:mod:`.oasis`). Writes ``subjects.csv``,
    ``volumes/`` (synthetic volumes; empty for OASIS, whose volumes stay in ``raw_dir``) and
    ``cohort.json`` (the ground truth, or the selection's counts)."""
    out_dir = Path(out_dir)
    (out_dir / "volumes").mkdir(parents=True, exist_ok=True)
    if settings["source"] == "synthetic":
        from cnnpractice.brain.synth import make_synthetic_cohort

        summary = {
            "source": "synthetic",
            **make_synthetic_cohort(template_dir=template_dir, out_dir=out_dir, seed=seed, **settings["synthetic"]),
        }
    elif settings["source"] == "oasis":
        from cnnpractice.brain.oasis import build_oasis_cohort

        # brain.oasis.discs says what to download; the selection finds what was downloaded
        selection = {k: v for k, v in settings["oasis"].items() if k != "discs"}
        rows = build_oasis_cohort(raw_dir, out_dir, seed=seed, **selection)
        labels = [int(r["label"]) for r in rows]
        summary = {
            "source": "oasis",
            "subjects": len(rows),
            "per_class": [labels.count(0), labels.count(1)],
            "selection": dict(settings["oasis"]),
        }
    else:
        raise ValueError(f"brain.source must be 'synthetic' or 'oasis', got {settings['source']!r}")
    write_json(out_dir / "cohort.json", summary)
    return summary
