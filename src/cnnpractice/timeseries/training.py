"""Training of the time-series study: the architecture of each run and its fit + test."""

from __future__ import annotations

from typing import Any

import numpy as np

IMAGE_MODELS = {"cnn": "cnn", "vgg": "pretrained"}


def model_spec(
    model: str, image: str, model_params: dict[str, Any], n_classes: int, input_shape: tuple[int, ...]
) -> dict[str, Any]:
    """The architecture spec of one time-series run.

    ``lstm`` runs on the raw series (``image == "raw"``); ``cnn`` and ``vgg``
    on images, whose channel count comes from ``input_shape`` (C, S, S).
    """
    if model == "lstm":
        if image != "raw":
            raise ValueError(f"model 'lstm' runs on the raw series: image must be 'raw', got {image!r}")
        return {"name": "lstm", "n_classes": n_classes, **model_params}
    if model not in IMAGE_MODELS:
        raise ValueError(f"unknown time-series model {model!r}; expected cnn, lstm or vgg")
    if image == "raw":
        raise ValueError(f"model {model!r} needs images; 'raw' is for the lstm only")
    return {"name": IMAGE_MODELS[model], "in_channels": int(input_shape[0]), "n_classes": n_classes, **model_params}


def train_model(
    *,
    dataset: str,
    model: str,
    image: str,
    train: str,
    test: str,
    out_dir: str,
    model_params: dict[str, Any],
    training: dict[str, Any],
    trainer: dict[str, Any],
    seed: int,
    images_train: str | None = None,
    images_test: str | None = None,
) -> dict[str, Any]:
    """Train and test one (dataset, model, image) combination; outputs as in
    :func:`cnnpractice.training.runner.fit_and_test`."""
    from cnnpractice.data.ucr import load_split
    from cnnpractice.training.data import ArrayDataModule
    from cnnpractice.training.runner import fit_and_test
    from cnnpractice.training.settings import TrainingSettings

    X_train, y_train, classes = load_split(train)
    X_test, y_test, _ = load_split(test)
    if image != "raw":
        if not (images_train and images_test):
            raise ValueError(f"{dataset}/{model}/{image}: image arrays are required for image models")
        X_train = np.load(images_train, mmap_mode="r")
        X_test = np.load(images_test, mmap_mode="r")
    settings = TrainingSettings.from_config(training, key=f"timeseries.models.{model}.training")
    dm = ArrayDataModule(
        X_train,
        y_train,
        X_test,
        y_test,
        val_fraction=settings.val_fraction,
        batch_size=settings.batch_size,
        seed=seed,
        standardize="global" if image == "raw" else "channel",
    )
    spec = model_spec(model, image, model_params, len(classes), dm.input_shape)
    check_deterministic_support(spec, trainer)
    return fit_and_test(
        task="classification",
        net_spec=spec,
        datamodule=dm,
        out_dir=out_dir,
        fit=settings.fit,
        seed=seed,
        trainer_options=trainer,
        class_names=list(classes),
        extra_info={"dataset": dataset, "model": model, "image": image},
    )


def check_deterministic_support(spec: dict[str, Any], trainer: dict[str, Any]) -> None:
    """Refuse, before training, a pretrained torchvision CNN on CUDA with ``deterministic: true``.

    Its adaptive average pooling (and the resize, when ``input_size`` is set) has
    no deterministic CUDA backward: torch would stop at the first step.
    """
    if spec["name"] != "pretrained" or trainer.get("deterministic") is not True:
        return
    if trainer.get("accelerator", "auto") == "cpu":
        return
    import torch

    if torch.cuda.is_available():
        raise ValueError(
            "the pretrained CNN has no deterministic CUDA backward: set trainer.deterministic "
            "to 'warn' (as config/paper.yaml does) or trainer.accelerator to 'cpu'"
        )
