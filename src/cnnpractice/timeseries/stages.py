"""The time-series study's rules as functions of paths and values: one function per rule,
named after it (``scripts/<rule>.py`` calls ``stages.<rule>``), each delegating to the
module that does the work.

=====================  ==============================================================
rule                   work
=====================  ==============================================================
fetch_ucr              :func:`cnnpractice.data.ucr.materialize_ucr` (shared data)
transform_series       :mod:`.transforms` (GASF, GADF, MTF, RP) on both splits
plot_transforms        :func:`.figures.plot_transforms`
train_timeseries       :func:`.training.train_model`
tabulate_timeseries    :func:`.tables.tabulate_accuracy`
plot_val_curves        :func:`.figures.plot_val_curves`
=====================  ==============================================================
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("cnnpractice.timeseries")


def fetch_ucr(
    *,
    dataset: str,
    out_dir: str | Path,
    source: str,
    extract_path: str,
    unequal_length: str,
    missing: str,
    downloads: dict | None = None,
    downloads_dir: str | None = None,
) -> dict[str, Any]:
    """Materialise one UCR dataset into ``out_dir/{train,test}.npz``; ``downloads``: the
    config's ``downloads`` section (mirror, checksums), ``downloads_dir``: where downloads
    are recorded (:class:`cnnpractice.data.downloads.Downloads`)."""
    from cnnpractice.data.downloads import Downloads
    from cnnpractice.data.ucr import materialize_ucr

    return materialize_ucr(
        dataset,
        Path(out_dir),
        source=source,
        extract_path=extract_path,
        unequal_length=unequal_length,
        missing=missing,
        downloads=Downloads.from_config(downloads, "ucr", downloads_dir),
    )


def transform_series(
    *,
    train: str,
    test: str,
    out_train: str,
    out_test: str,
    channels: Sequence[str],
    image_size: int,
    transform_params: dict | None = None,
    chunk_size: int = 256,
    accelerator: str = "auto",
) -> None:
    """Turn both splits of a materialised UCR dataset into image arrays (``.npy``, (n, C, S, S)).

    ``S`` is ``image_size``, or the series length when that is shorter (PAA cannot lengthen).
    ``accelerator`` is the config's ``trainer.accelerator``: ``cpu`` keeps the
    transforms on the CPU, anything else uses a GPU when there is one.
    """
    from cnnpractice.data.ucr import load_split
    from cnnpractice.timeseries.transforms import transform_to_npy
    from cnnpractice.training.device import choose_device

    device = choose_device(accelerator)
    for src, dst in ((train, out_train), (test, out_test)):
        X, _, _ = load_split(src)
        size = min(image_size, X.shape[1])  # PAA only shortens: short series keep their length
        if size < image_size:
            log.info(f"series of length {X.shape[1]} < image_size {image_size}: images are {size}x{size}")
        shape = transform_to_npy(
            X,
            dst,
            channels=list(channels),
            image_size=size,
            params=transform_params,
            chunk_size=chunk_size,
            device=device,
        )
        log.info(f"{src} -> {dst} {tuple(shape)} channels={list(channels)}")


def plot_transforms(
    *, train: str, out_png: str, image_size: int = 64, transform_params: dict | None = None, dataset: str | None = None
) -> None:
    """Figure: one series per class and its images under each transform."""
    from cnnpractice.timeseries.figures import plot_transforms as draw

    draw(train=train, out_png=out_png, image_size=image_size, transform_params=transform_params, dataset=dataset)


def train_timeseries(**kwargs: Any) -> dict[str, Any]:
    """Train and test one (dataset, model, image) run: :func:`.training.train_model` (its
    keyword arguments: dataset, model, image, train, test, images_train, images_test,
    out_dir, model_params, training, trainer, seed)."""
    from cnnpractice.timeseries.training import train_model

    return train_model(**kwargs)


def tabulate_timeseries(
    *, results: Sequence[str], reference: str, out_csv: str, out_md: str, out_runs_csv: str
) -> list[dict]:
    """``accuracy.{csv,md}`` and every run's row, beside the talk's and published numbers."""
    from cnnpractice.timeseries.tables import tabulate_accuracy

    return tabulate_accuracy(
        results=results, reference=reference, out_csv=out_csv, out_md=out_md, out_runs_csv=out_runs_csv
    )


def plot_val_curves(*, histories: Sequence[str], out_png: str, dataset: str | None = None) -> None:
    """Figure: validation accuracy per epoch of every run on one dataset."""
    from cnnpractice.timeseries.figures import plot_val_curves as draw

    draw(histories=histories, out_png=out_png, dataset=dataset)
