"""The time-series study's rules as functions of paths and values: one function per rule,
named after it (``scripts/<rule>.py`` calls ``stages.<rule>``), each delegating to the
module that does the work.

=============================  ======================================================
rule                           work
=============================  ======================================================
fetch_ucr                      :func:`cnnpractice.data.ucr.materialize_ucr` (shared data)
transform_series               :mod:`.transforms` (GASF, GADF, MTF, RP, binary RP), every
                               image type of one dataset
plot_transforms                :func:`.figures.plot_transforms`
train_timeseries               :func:`.training.train_runs`: every run of one dataset
select_timeseries_image        :func:`.selection.select_to_json` (validation data only)
tabulate_timeseries            :func:`.tables.tabulate_accuracy`
train_timeseries_transfer      :func:`.training.train_runs` with the chosen image type
tabulate_timeseries_transfer   :func:`.tables.tabulate_transfer`
plot_val_curves                :func:`.figures.plot_val_curves`
=============================  ======================================================
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
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
    out_dir: str | Path,
    images: Mapping[str, Sequence[str]],
    image_size: int,
    transform_params: dict | None = None,
    chunk_size: int = 256,
    accelerator: str = "auto",
) -> None:
    """Turn both splits of a materialised UCR dataset into every image type of ``images``
    (name -> transforms stacked as channels): ``out_dir/<name>/{train,test}.npy``, (n, C, S, S).

    ``S`` is ``image_size``, or the series length when that is shorter (PAA cannot lengthen).
    ``accelerator`` is the config's ``trainer.accelerator``: ``cpu`` keeps the
    transforms on the CPU, anything else uses a GPU when there is one.
    """
    from cnnpractice.data.ucr import load_split
    from cnnpractice.timeseries.transforms import transform_to_npy
    from cnnpractice.training.device import choose_device

    device = choose_device(accelerator)
    for split, src in (("train", train), ("test", test)):
        X, _, _ = load_split(src)
        size = min(image_size, X.shape[1])  # PAA only shortens: short series keep their length
        if size < image_size:
            log.info(f"series of length {X.shape[1]} < image_size {image_size}: images are {size}x{size}")
        for name, channels in images.items():
            dst = Path(out_dir) / name / f"{split}.npy"
            shape = transform_to_npy(
                X,
                dst,
                channels=list(channels),
                image_size=size,
                params=transform_params,
                chunk_size=chunk_size,
                device=device,
                progress=False,
            )
            log.info(f"{src} -> {dst} {tuple(shape)} channels={list(channels)}")


def plot_transforms(
    *, train: str, out_png: str, image_size: int = 64, transform_params: dict | None = None, dataset: str | None = None
) -> None:
    """Figure: one series per class and its images under each transform."""
    from cnnpractice.timeseries.figures import plot_transforms as draw

    draw(train=train, out_png=out_png, image_size=image_size, transform_params=transform_params, dataset=dataset)


def train_timeseries(**kwargs: Any) -> list[dict[str, Any]]:
    """Train and test every run of one dataset: :func:`.training.train_runs` (keyword
    arguments: dataset, train, test, images, runs, models, series_length, trainer)."""
    from cnnpractice.timeseries.training import train_runs

    return train_runs(**kwargs)


def select_timeseries_image(*, validation: Sequence[str], candidates: Sequence[str], out_json: str) -> dict:
    """The image CNN's image type, from the runs' ``validation.json`` only."""
    from cnnpractice.timeseries.selection import select_to_json

    choice = select_to_json(validation=validation, candidates=candidates, out_json=out_json)
    log.info(f"image type chosen on validation: {choice['image']}")
    return choice


def train_timeseries_transfer(
    *, selection: str | None, runs: Sequence[Mapping[str, Any]], **kwargs: Any
) -> list[dict[str, Any]]:
    """Train and test the transfer runs of one dataset: the ``cnn`` runs take the image type
    of ``selection`` (chosen on the default datasets), the series models the series; every
    other setting is the config's. Keyword arguments as :func:`train_timeseries`."""
    from cnnpractice.timeseries.checks import SERIES_MODELS
    from cnnpractice.timeseries.selection import load_selection
    from cnnpractice.timeseries.training import train_runs

    choice = load_selection(selection)
    planned = []
    for run in runs:
        if run["model"] in SERIES_MODELS:
            image = "raw"
        elif choice is None:
            raise ValueError(f"transfer run of {run['model']!r} needs the image-type selection (no selection file)")
        else:
            image = choice["image"]
        planned.append({**run, "image": image})
    chosen_on = {"image_chosen_on": choice["datasets"]} if choice else {}
    return train_runs(runs=planned, extra_info=chosen_on, **kwargs)


def tabulate_timeseries(**kwargs: Any) -> list[dict]:
    """``accuracy.{csv,md}``, every run's row and the paired comparisons:
    :func:`.tables.tabulate_accuracy` (keyword arguments: results, validation, selection,
    reference, out_csv, out_md, out_runs_csv, out_comparisons_csv)."""
    from cnnpractice.timeseries.tables import tabulate_accuracy

    return tabulate_accuracy(**kwargs)


def tabulate_timeseries_transfer(**kwargs: Any) -> list[dict]:
    """``transfer.{csv,md}``: :func:`.tables.tabulate_transfer` (arguments as
    :func:`tabulate_timeseries`)."""
    from cnnpractice.timeseries.tables import tabulate_transfer

    return tabulate_transfer(**kwargs)


def plot_val_curves(*, histories: Sequence[str], out_png: str, dataset: str | None = None) -> None:
    """Figure: validation accuracy per epoch of every run on one dataset."""
    from cnnpractice.timeseries.figures import plot_val_curves as draw

    draw(histories=histories, out_png=out_png, dataset=dataset)
