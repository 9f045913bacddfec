"""Checks of the ``timeseries`` config section that JSON Schema cannot express, run when
the workflow is parsed (standard library only: cheap to import from the rules).

Each error names the config key to change and what it expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Models on the series (image "raw") and models on images.
SERIES_MODELS = ("lstm", "lstm_step", "fcn", "resnet")
IMAGE_MODELS = ("cnn", "vgg")


def check_rp_binary(params: Mapping[str, Any], key: str = "timeseries.transform_params.rp_binary") -> None:
    """``percentage`` is required with threshold ``point``/``distance`` and must be null with
    a fixed distance, where it would be ignored."""
    threshold, percentage = params.get("threshold"), params.get("percentage")
    if threshold in ("point", "distance") and percentage is None:
        raise ValueError(f"{key}.percentage: threshold {threshold!r} needs a percentage in [0, 100], got null")
    if threshold not in ("point", "distance") and percentage is not None:
        raise ValueError(
            f"{key}.percentage: {percentage!r} would be ignored with the fixed distance threshold {threshold!r}: "
            "set it to null, or the threshold to 'point' or 'distance'"
        )


def _training(ts: Mapping[str, Any], model: str) -> dict[str, Any]:
    merged = dict(ts.get("training") or {})
    merged.update(ts["models"][model].get("training") or {})
    return merged


def enabled_models(ts: Mapping[str, Any]) -> list[str]:
    """Models switched on under ``timeseries.models``, in config order."""
    return [name for name, model in ts["models"].items() if model.get("enabled")]


def check_config(ts: Mapping[str, Any]) -> None:
    """Refuse a ``timeseries`` section whose settings would be ignored or would select on
    the test split; called for an enabled study.

    * every image type an image model names is defined under ``timeseries.images``;
    * ``rp_binary`` threshold and percentage agree (:func:`check_rp_binary`);
    * every enabled model holds out a validation part (``val_fraction`` > 0): it picks the
      checkpoint tested and the CNN's image type, so nothing is chosen on the test split;
    * the transfer datasets are not among ``timeseries.datasets`` (nothing may be tuned on
      them) and their models are enabled.
    """
    models = enabled_models(ts)
    if not models:
        raise ValueError("timeseries.enabled is true but no model is enabled under timeseries.models")
    for name in models:
        if name in IMAGE_MODELS:
            for image in ts["models"][name].get("images") or []:
                if image not in ts["images"]:
                    raise ValueError(
                        f"config key timeseries.models.{name}.images names {image!r}, "
                        f"which is not defined under timeseries.images ({sorted(ts['images'])})"
                    )
        if _training(ts, name).get("val_fraction", 0) <= 0:
            raise ValueError(
                f"timeseries.training.val_fraction (or timeseries.models.{name}.training.val_fraction) must be > 0: "
                "the validation part of the training split picks the checkpoint tested and the image type; "
                "without it the choice would fall on training loss"
            )
    check_rp_binary(ts["transform_params"]["rp_binary"])
    transfer = ts.get("transfer") or {}
    overlap = sorted(set(transfer.get("datasets") or []) & set(ts["datasets"]))
    if overlap:
        raise ValueError(
            f"timeseries.transfer.datasets {overlap} are also in timeseries.datasets: a transfer dataset must "
            "be one the settings were not chosen on"
        )
    if transfer.get("datasets"):
        off = [m for m in transfer.get("models") or [] if m not in models]
        if off:
            raise ValueError(f"timeseries.transfer.models {off} are not enabled under timeseries.models")
