"""Published and talk numbers, as data files with their sources (one YAML per study).

Every table reads them through :func:`load_reference`, from the file its rule declares as
an input (``reference_file(study)`` in ``rules/common.smk``, so editing a number reruns
the table), or from the packaged copy when called outside the workflow.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path


def load_reference(study: str, path: str | os.PathLike | None = None) -> dict:
    """The reference numbers of ``study`` (e.g. ``"timeseries"``) as a dict: read from
    ``path`` when given, else the package's ``<study>.yaml``. Errors name the file."""
    if path is None:
        return _packaged(study)
    return _parse(Path(path).read_text(), str(path))


@cache
def _packaged(study: str) -> dict:
    try:
        text = resources.files(__name__).joinpath(f"{study}.yaml").read_text()
    except FileNotFoundError as exc:
        raise ValueError(f"no reference numbers for study {study!r}") from exc
    return _parse(text, f"{__name__}/{study}.yaml")


def _parse(text: str, where: str) -> dict:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{where}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping of reference numbers, got {type(data).__name__}")
    return data
