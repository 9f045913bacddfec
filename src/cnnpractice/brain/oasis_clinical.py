"""OASIS-1 (cross-sectional) facts shared by its download (:mod:`.oasis_fetch`) and its
cohort (:mod:`.oasis`): the release layout and the clinical table (:func:`read_clinical`)."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

N_DISCS = 12
CLINICAL_NAME = "oasis_cross-sectional.csv"
CLINICAL_REQUIRED = ("ID", "M/F", "Age", "MMSE", "CDR")
_CLINICAL_NUMERIC = {
    "Age": "age",
    "Educ": "educ",
    "SES": "ses",
    "MMSE": "mmse",
    "CDR": "cdr",
    "eTIV": "etiv",
    "nWBV": "nwbv",
    "ASF": "asf",
    "Delay": "delay",
}
_ID = re.compile(r"^OAS1_(\d{4})_MR(\d+)$")
_MISSING = {"", "N/A", "NA", "NAN"}
CDR_VALUES = (0.0, 0.5, 1.0, 2.0, 3.0)
OASIS1_CDR = (0.0, 0.5, 1.0, 2.0)  # the ratings that occur in OASIS-1


def read_clinical(path: str | os.PathLike) -> list[dict]:
    """Parse ``oasis_cross-sectional.csv``.

    Columns ``ID, M/F, Hand, Age, Educ, SES, MMSE, CDR, eTIV, nWBV, ASF, Delay``; those in
    ``CLINICAL_REQUIRED`` must be there. Blank and ``N/A`` cells become ``None`` (the
    subjects under 60 have no CDR or MMSE).

    Returns
    -------
    list of dict, one per row in file order: ``id`` (``OAS1_0001_MR1``), ``subject``
    (``OAS1_0001``), ``number`` (1), ``session`` (``MR1``), ``sex`` (``M``/``F``), ``hand``,
    and floats (or None) ``age, educ, ses, mmse, cdr, etiv, nwbv, asf, delay``.

    Raises
    ------
    ValueError
        Naming the file: a missing column, a malformed ID, a non-numeric value or a CDR
        outside 0, 0.5, 1, 2, 3 (with the line number).
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in CLINICAL_REQUIRED if c not in header]
            if missing:
                raise ValueError(
                    f"{path}: missing column(s) {missing} of the OASIS-1 clinical table (header: {header[:12]})"
                )
            reader.fieldnames = header
            raw_rows = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: cannot read the OASIS-1 clinical table ({exc})") from exc
    rows = []
    for line, row in raw_rows:
        cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(cells.values()):
            continue
        match = _ID.match(cells["ID"])
        if not match:
            raise ValueError(f"{path}, line {line}: ID {cells['ID']!r} is not of the form OAS1_XXXX_MR<n>")
        out = {
            "id": cells["ID"],
            "subject": cells["ID"].rsplit("_", 1)[0],
            "number": int(match.group(1)),
            "session": f"MR{match.group(2)}",
            "sex": cells.get("M/F") or None,
            "hand": cells.get("Hand") or None,
        }
        for column, key in _CLINICAL_NUMERIC.items():
            value = cells.get(column, "")
            if value.upper() in _MISSING:
                out[key] = None
                continue
            try:
                out[key] = float(value)
            except ValueError:
                raise ValueError(f"{path}, line {line}: column {column} holds {value!r}, not a number") from None
        if out["cdr"] is not None and out["cdr"] not in CDR_VALUES:
            raise ValueError(f"{path}, line {line}: CDR {out['cdr']:g} is not one of {list(CDR_VALUES)}")
        rows.append(out)
    return rows
