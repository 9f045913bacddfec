"""Affine alignment of every subject to the template, in shards, and the QC table with the
exclusion threshold (a failed or poor alignment is excluded and listed, never dropped)."""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.brain.cohort import read_cohort
from cnnpractice.tables import write_csv

log = logging.getLogger("cnnpractice.brain")
QC_COLUMNS = [
    "subject",
    "label",
    "group",
    "volume",
    "aligned",
    "method",
    "corr_before",
    "corr_after",
    "seconds",
    "included",
    "reason",
]


def align_shard(
    *,
    cohort_csv: str | Path,
    template_dir: str | Path,
    out_dir: str | Path,
    shard: int,
    n_shards: int,
    method: str,
    settings: Mapping[str, Any],
    seed: int,
    threads: int = 1,
) -> list[dict[str, Any]]:
    """Register subjects ``shard, shard + n_shards, ...`` of the cohort to the template.

    Writes ``out_dir/<subject>.nii.gz`` (the subject on the template grid) and
    ``out_dir/qc.csv`` (similarity to the template before and after, over the brain mask).
    A subject whose volume cannot be read or registered gets a row with NaN similarities
    and the error, which :func:`collect_qc` turns into an exclusion.
    """
    from cnnpractice.brain.registration import register_affine, resample, similarity
    from cnnpractice.brain.template import load_template
    from cnnpractice.brain.volumes import load_volume, save_volume

    out_dir = Path(out_dir)
    tpl = load_template(template_dir)
    rows = read_cohort(cohort_csv)[shard::n_shards]
    qc = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for row in rows:
        entry = {
            "subject": row["subject"],
            "label": int(row["label"]),
            "group": row["group"],
            "volume": row["volume"],
            "aligned": "",
            "method": method,
            "corr_before": float("nan"),
            "corr_after": float("nan"),
            "seconds": 0.0,
            "error": "",
        }
        t0 = time.perf_counter()
        try:
            moving, moving_affine = load_volume(row["volume"])
            before = resample(moving, moving_affine, np.eye(4), tpl["template"].shape, tpl["affine"])
            result = register_affine(
                moving,
                moving_affine,
                tpl["template"],
                tpl["affine"],
                method=method,
                fixed_mask=tpl["mask"],
                seed=seed,
                threads=threads,
                **settings,
            )
        except (ValueError, RuntimeError) as exc:  # VolumeError is a ValueError; ITK raises RuntimeError
            # one unreadable or unregistrable scan is reported and excluded by collect_qc,
            # not a reason to lose the shard's other subjects
            entry["error"] = f"{type(exc).__name__}: {exc}".replace("\n", " ")
            log.info(f"{row['subject']}: alignment failed: {entry['error']}")
        else:
            aligned_path = out_dir / f"{row['subject']}.nii.gz"
            save_volume(aligned_path, result.aligned, tpl["affine"])
            entry.update(
                aligned=str(aligned_path),
                corr_before=round(similarity(before, tpl["template"], tpl["mask"]), 4),
                corr_after=round(similarity(result.aligned, tpl["template"], tpl["mask"]), 4),
            )
            log.info(f"aligned {row['subject']}: correlation {entry['corr_before']} -> {entry['corr_after']}")
        entry["seconds"] = round(time.perf_counter() - t0, 2)
        qc.append(entry)
    write_csv(out_dir / "qc.csv", qc, QC_COLUMNS[:-2] + ["error"])
    return qc


def collect_qc(
    *, shard_qcs: Sequence[str | Path], out_csv: str | Path, out_md: str | Path, min_correlation: float
) -> list[dict[str, Any]]:
    """Merge the shards' QC rows; a subject whose correlation after alignment is below
    ``min_correlation``, or whose alignment failed (unreadable volume, registration error),
    is excluded (``included`` false, with the reason), and listed in the Markdown report,
    never dropped silently."""
    from cnnpractice.brain.tables import write_qc_markdown

    rows = []
    for path in shard_qcs:
        with open(path, newline="") as fh:
            rows.extend(csv.DictReader(fh))
    rows.sort(key=lambda r: r["subject"])
    for row in rows:
        ok = float(row["corr_after"]) >= min_correlation  # NaN (a failed alignment) is never ok
        row["included"] = ok
        row["reason"] = (
            "" if ok else row.get("error") or f"correlation after alignment {row['corr_after']} < {min_correlation}"
        )
    if not any(r["included"] for r in rows):
        raise ValueError(f"brain.alignment.min_correlation={min_correlation}: every subject failed QC")
    write_csv(out_csv, rows, QC_COLUMNS)
    write_qc_markdown(out_md, rows, min_correlation)
    excluded = [r["subject"] for r in rows if not r["included"]]
    log.info(f"QC: {len(rows) - len(excluded)} included, {len(excluded)} excluded {excluded}")
    return rows
