"""Training of the time-series study: the architecture of each run, and every run of one
dataset (models x image types x seeds) in one process.

A training job pays several seconds of CPU for importing torch and Lightning; the study's
runs are small, so :func:`train_runs` trains all runs of one dataset in one job, each still
writing its own outputs (:func:`cnnpractice.training.runner.fit_and_test`) plus
``validation.json``: what the validation part of the training split says about the run,
the only file the image-type selection (:mod:`.selection`) reads.

Protocol, the same for every model (the "budget"): the seeded stratified validation part
``val_fraction`` of the training split (seed = the run's seed, so repeat r of every model
trains and validates on the same series), the same epochs, batch size, optimiser and
schedule; the checkpoint tested is the one with the lowest validation loss. The series
models (``lstm``, ``lstm_step``, ``fcn``, ``resnet``) read each series PAA-reduced to
``series_length`` points when that is set (the points the images are built from, when it
equals ``image_size``), else the whole series.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("cnnpractice.timeseries")

IMAGE_MODELS = {"cnn": "cnn", "vgg": "pretrained"}
#: Models on the series -> architecture: the talk's LSTMs (windowed; ``lstm_step`` one value
#: per step) and the FCN/ResNet baselines of Wang, Yan & Oates (2017).
SERIES_MODELS = {"lstm": "lstm", "lstm_step": "lstm", "fcn": "fcn", "resnet": "resnet1d"}


def model_spec(
    model: str, image: str, model_params: dict[str, Any], n_classes: int, input_shape: tuple[int, ...]
) -> dict[str, Any]:
    """The architecture spec of one time-series run.

    Series models run on the series (``image == "raw"``); ``cnn`` and ``vgg`` on images,
    whose channel count comes from ``input_shape`` (C, S, S).
    """
    if model in SERIES_MODELS:
        if image != "raw":
            raise ValueError(f"model {model!r} runs on the series: image must be 'raw', got {image!r}")
        window = {"window": 1} if model == "lstm_step" else {}
        return {"name": SERIES_MODELS[model], "n_classes": n_classes, **model_params, **window}
    if model not in IMAGE_MODELS:
        raise ValueError(f"unknown time-series model {model!r}; expected one of {sorted(IMAGE_MODELS | SERIES_MODELS)}")
    if image == "raw":
        raise ValueError(f"model {model!r} needs images; 'raw' is for the series models {sorted(SERIES_MODELS)}")
    return {"name": IMAGE_MODELS[model], "in_channels": int(input_shape[0]), "n_classes": n_classes, **model_params}


def reduce_series(X: np.ndarray, length: int | None) -> np.ndarray:
    """``X`` (n, L) PAA-reduced to ``length`` points (pyts's windows, as the images use);
    unchanged when ``length`` is None or not shorter than L."""
    if length is None or length >= X.shape[1]:
        return X
    from cnnpractice.timeseries.transforms import paa

    return paa(np.asarray(X, dtype=np.float64), int(length)).numpy().astype(np.float32)


def image_index(paths: Sequence[str | Path]) -> dict[tuple[str, str], str]:
    """``.../images/<image>/<split>.npy`` paths -> {(image, split): path}."""
    return {(Path(p).parent.name, Path(p).stem): str(p) for p in paths}


def count_parameters(spec: dict[str, Any]) -> int:
    """Weights of the network ``spec`` describes, counted on torch's meta device (nothing
    allocated, no pretrained weights loaded)."""
    import torch

    from cnnpractice.models import build_model

    with torch.device("meta"):
        net = build_model(spec | {"weights": None} if spec["name"] == "pretrained" else spec)
    return int(sum(p.numel() for p in net.parameters()))


def validation_summary(result: Mapping[str, Any], history: str | Path) -> dict[str, Any]:
    """What the validation part says about a finished run: the checkpoint chosen (its epoch)
    and the validation loss and accuracy there. Built from ``metrics.csv`` and the run's
    selection fields only; no test number goes in."""
    with open(history, newline="") as fh:
        rows = {int(r["epoch"]): r for r in csv.DictReader(fh)}
    best = rows[int(result["best_epoch"])]

    def number(key):
        value = best.get(key, "")
        return float(value) if value not in ("", None) else math.nan

    keys = ("dataset", "model", "image", "seed", "monitor", "best_epoch", "epochs_run", "n_train", "n_val")
    return {k: result[k] for k in keys} | {"val_loss": number("val_loss"), "val_acc": number("val_acc")}


def fit_run(
    *,
    dataset: str,
    model: str,
    image: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    classes: Sequence[str],
    out_dir: str | Path,
    model_params: dict[str, Any],
    training: dict[str, Any],
    trainer: dict[str, Any],
    seed: int,
    extra_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train and test one run; writes ``fit_and_test``'s outputs and ``validation.json``."""
    from cnnpractice.io import write_json
    from cnnpractice.training.data import ArrayDataModule
    from cnnpractice.training.runner import fit_and_test, process_rank
    from cnnpractice.training.settings import TrainingSettings

    settings = TrainingSettings.from_config(training, key=f"timeseries.models.{model}.training")
    dm = ArrayDataModule(
        x_train,
        y_train,
        x_test,
        y_test,
        val_fraction=settings.val_fraction,
        batch_size=settings.batch_size,
        seed=seed,
        standardize="global" if image == "raw" else "channel",
    )
    spec = model_spec(model, image, model_params, len(classes), dm.input_shape)
    check_deterministic_support(spec, trainer)
    info = {"dataset": dataset, "model": model, "image": image, "n_params": count_parameters(spec)}
    info["input_shape"] = list(dm.input_shape)
    result = fit_and_test(
        task="classification",
        net_spec=spec,
        datamodule=dm,
        out_dir=out_dir,
        fit=settings.fit,
        seed=seed,
        trainer_options=trainer,
        class_names=list(classes),
        extra_info=info | (extra_info or {}),
    )
    # DDP: rank 0 publishes metrics.csv after the test; the other processes go on to the
    # next run without waiting for it, so only rank 0 reads it back
    if process_rank() == 0:
        write_json(Path(out_dir) / "validation.json", validation_summary(result, Path(out_dir) / "metrics.csv"))
    return result


def train_runs(
    *,
    dataset: str,
    train: str,
    test: str,
    images: Sequence[str],
    runs: Sequence[Mapping[str, Any]],
    models: Mapping[str, Mapping[str, Any]],
    series_length: int | None,
    trainer: dict[str, Any],
    extra_info: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Train and test ``runs`` (each ``{"model", "image", "seed", "out_dir"}``) of one dataset.

    ``images`` are the image files (``.../images/<image>/{train,test}.npy``), ``models``
    maps a model to its ``params`` and (merged) ``training`` settings. Returns every run's
    ``test.json`` content, in order.
    """
    from cnnpractice.data.ucr import load_split

    X_train, y_train, classes = load_split(train)
    X_test, y_test, _ = load_split(test)
    index = image_index(images)
    series = None
    results = []
    for number, run in enumerate(runs, start=1):
        model, image = run["model"], run["image"]
        if model not in models:
            raise ValueError(f"{dataset}: run {run} names model {model!r}, which is not enabled")
        if image == "raw":
            if series is None:
                series = (reduce_series(X_train, series_length), reduce_series(X_test, series_length))
            x_train, x_test = series
        else:
            if (image, "train") not in index or (image, "test") not in index:
                raise ValueError(f"{dataset}/{model}/{image}: no image files among the inputs {sorted(index)}")
            x_train = np.load(index[(image, "train")], mmap_mode="r")
            x_test = np.load(index[(image, "test")], mmap_mode="r")
        log.info(f"{dataset}: run {number}/{len(runs)}: {model}/{image} seed {run['seed']} -> {run['out_dir']}")
        result = fit_run(
            dataset=dataset,
            model=model,
            image=image,
            x_train=x_train,
            y_train=y_train,
            x_test=x_test,
            y_test=y_test,
            classes=classes,
            out_dir=run["out_dir"],
            model_params=dict(models[model].get("params") or {}),
            training=dict(models[model]["training"]),
            trainer=trainer,
            seed=int(run["seed"]),
            extra_info=extra_info,
        )
        results.append(result)
    return results


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
