"""A study's ``training`` config section, split once into what each part of a training uses.

The schema's ``$defs/training`` holds eight keys; two shape the data (:class:`TrainingSettings`
``val_fraction`` and ``batch_size``, for the data module) and six the fit
(:class:`FitSettings`, for :func:`cnnpractice.training.runner.fit_and_test`)::

    settings = TrainingSettings.from_config(training)      # config dict -> typed
    dm = ArrayDataModule(..., val_fraction=settings.val_fraction, batch_size=settings.batch_size)
    fit_and_test(..., fit=settings.fit)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

MONITORS = ("val_loss", "val_acc")
SCHEDULERS = ("none", "cosine")


@dataclasses.dataclass(frozen=True)
class FitSettings:
    """How the network is fitted: AdamW (``lr``, ``weight_decay``), the learning-rate
    ``scheduler`` (``none`` or ``cosine`` over ``max_epochs``), ``label_smoothing``
    (classification only) and the ``monitor`` that picks the checkpoint tested
    (``val_loss`` minimised or ``val_acc`` maximised)."""

    max_epochs: int = 50
    lr: float = 1e-3
    weight_decay: float = 0.0
    scheduler: str = "none"
    label_smoothing: float = 0.0
    monitor: str = "val_loss"

    def __post_init__(self) -> None:
        if self.monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {MONITORS}, got {self.monitor!r}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {SCHEDULERS}, got {self.scheduler!r}")
        if isinstance(self.max_epochs, bool) or not isinstance(self.max_epochs, int) or self.max_epochs < 1:
            raise ValueError(f"max_epochs must be an integer >= 1, got {self.max_epochs!r}")

    def replace(self, **changes: Any) -> FitSettings:
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """A ``training`` section: the data split and batch (``val_fraction``, ``batch_size``)
    and the :class:`FitSettings`."""

    val_fraction: float
    batch_size: int
    fit: FitSettings

    @classmethod
    def from_config(cls, training: Mapping[str, Any], key: str = "training") -> TrainingSettings:
        """Split a config ``training`` mapping (all eight keys of the schema's
        ``$defs/training_full``); an unknown or missing key is an error naming ``key``."""
        training = dict(training)
        fit_keys = {f.name for f in dataclasses.fields(FitSettings)}
        data_keys = {"val_fraction", "batch_size"}
        unknown = sorted(set(training) - fit_keys - data_keys)
        missing = sorted(data_keys - set(training))
        if unknown or missing:
            raise ValueError(
                f"{key}: "
                + "; ".join(
                    ([f"unknown keys {unknown}"] if unknown else []) + ([f"missing keys {missing}"] if missing else [])
                )
            )
        return cls(
            val_fraction=training["val_fraction"],
            batch_size=int(training["batch_size"]),
            fit=FitSettings(**{k: v for k, v in training.items() if k in fit_keys}),
        )
