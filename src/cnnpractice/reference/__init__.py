"""Published and talk numbers, as data files with their sources (one YAML per study)."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load_reference(study: str) -> dict:
    """The reference numbers of ``study`` (e.g. ``"timeseries"``) as a dict."""
    import yaml

    try:
        text = resources.files(__name__).joinpath(f"{study}.yaml").read_text()
    except FileNotFoundError as exc:
        raise ValueError(f"no reference numbers for study {study!r}") from exc
    return yaml.safe_load(text)
