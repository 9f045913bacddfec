"""The small-datasets study's rules as functions of paths and values: one function per rule,
named after it (``scripts/<rule>.py`` calls ``stages.<rule>``), each delegating to the
module that does the work.

===========================  ==========================================================
rule                         work
===========================  ==========================================================
fetch_smalldata              :func:`.datasets.fetch` (registry: :mod:`.registry`)
prepare_smalldata            :func:`.datasets.prepare` -> a prepared dataset
                             (:mod:`cnnpractice.data.prepared`)
train_smalldata_greedy       :func:`.schemes.train_greedy` (L1..L5 of one seed; learning
                             rate, epoch and stage chosen on validation, :mod:`.selection`;
                             each run :func:`.training.train_stage`)
train_smalldata_full         :func:`.schemes.train_full` (Full Lk of one seed, every budget)
finetune_smalldata           :func:`.training.finetune`
extract_engineered_features  :func:`.learned.engineered_features` (:mod:`.features`)
extract_cnn_features         :func:`.learned.cnn_block_features` (pooling grids)
extract_decaf_features       :func:`.learned.decaf_features`
classify_features            :func:`.learned.classify` (:mod:`.classify`)
tabulate_smalldata           :func:`.greedy_table.tabulate_greedy`, :func:`.tables.tabulate_features`
plot_filters                 :func:`.figures.plot_filters`
===========================  ==========================================================

Other studies reach this one through :func:`train_smalldata` only (one stage, one run: the
semantic study trains its own network with it); the paths of its outputs are given to them
by the rules (``sd_prepared_files``, ``sd_l5_run`` in ``rules/helpers/smalldata.smk``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def fetch_smalldata(
    *, dataset: str, raw_dir: str | Path, source: str, downloads: dict | None = None, downloads_dir: str | None = None
) -> dict[str, Any]:
    """Put one dataset's raw files into ``raw_dir`` (a shipped copy or downloads); ``downloads``:
    the config's section (mirror, checksums), ``downloads_dir``: where archives wait and
    first downloads are recorded."""
    from cnnpractice.data.downloads import Downloads
    from cnnpractice.smalldata.datasets import fetch

    settings = Downloads.from_config(downloads, dataset, downloads_dir) if dataset != "oasis" else None
    return fetch(dataset, raw_dir, source=source, downloads=settings)


def prepare_smalldata(
    *, dataset: str, raw_dir: str | Path, out_dir: str | Path, settings: dict[str, Any], seed: int, threads: int = 1
) -> dict[str, Any]:
    """Decode and resize one dataset once into the prepared uint8 arrays; ``settings`` is its
    ``smalldata.datasets.<name>`` config section."""
    from cnnpractice.smalldata.datasets import prepare

    return prepare(
        dataset,
        raw_dir,
        out_dir,
        image_size=settings["image_size"],
        channels=settings["channels"],
        train_per_class=settings.get("train_per_class"),
        test_per_class=settings.get("test_per_class"),
        test_fraction=settings.get("test_fraction", 0.2),
        resize=settings.get("resize", "squash"),
        seed=seed,
        threads=threads,
    )


def train_smalldata(**kwargs: Any) -> dict[str, Any]:
    """Train one stage (greedy Lk, or Full Lk end to end) once: :func:`.training.train_stage`
    (keyword arguments: data_dir, out_dir, dataset, arch, arch_params, kind, stage,
    training, trainer, seed, previous_ckpt, full_epochs). Writes ``out_dir/model.ckpt``,
    ``metrics.csv``, ``test.json`` (with the input ``normalization``), ``tensorboard/``."""
    from cnnpractice.smalldata.training import train_stage

    return train_stage(**kwargs)


def train_smalldata_greedy(**kwargs: Any) -> dict[str, Any]:
    """Greedy L1..L5 of one seed, learning rate per stage and the stage chosen on validation:
    :func:`.schemes.train_greedy` (keyword arguments: data_dir, out_dir, dataset, arch,
    arch_params, training, stage_training, lr_grid, trainer, seed)."""
    from cnnpractice.smalldata.schemes import train_greedy

    return train_greedy(**kwargs)


def train_smalldata_full(**kwargs: Any) -> dict[str, Any]:
    """Full Lk of one seed under every compute budget, learning rate and stage chosen on
    validation: :func:`.schemes.train_full` (keyword arguments: data_dir, out_dir, dataset,
    arch, arch_params, training, stages, budgets, lr_grid, trainer, seed)."""
    from cnnpractice.smalldata.schemes import train_full

    return train_full(**kwargs)


def finetune_smalldata(**kwargs: Any) -> dict[str, Any]:
    """The talk's fine-tuning baseline: :func:`.training.finetune` (keyword arguments:
    data_dir, out_dir, dataset, params, training, trainer, seed)."""
    from cnnpractice.smalldata.training import finetune

    return finetune(**kwargs)


def extract_engineered_features(
    *, data_dir: str | Path, out: str | Path, name: str, params: dict[str, Any]
) -> tuple[int, ...]:
    """One engineered feature set (HOG, HGD or HCFeats) of both splits."""
    from cnnpractice.smalldata.learned import engineered_features

    return engineered_features(data_dir=data_dir, out=out, name=name, params=params)


def extract_cnn_features(
    *,
    data_dir: str | Path,
    ckpt: str | Path,
    out: str | Path,
    name: str,
    grids: Sequence[int] = (1,),
    accelerator: str = "auto",
) -> dict[str, tuple[int, ...]]:
    """Each conv block's activations of a trained L5 network, average-pooled to every grid
    of ``grids`` (1 = global average pooling), as feature sets ``<name>_conv<b>[_<g>x<g>]``
    in one file."""
    from cnnpractice.smalldata.learned import cnn_block_features

    return cnn_block_features(data_dir=data_dir, ckpt=ckpt, out=out, name=name, grids=grids, accelerator=accelerator)


def extract_decaf_features(
    *,
    data_dir: str | Path,
    out_paths: dict[str, str | Path],
    weights: str | None,
    accelerator: str,
    seed: int = 0,
) -> dict[str, tuple[int, ...]]:
    """DeCAF features: fc6/fc7 activations of an ImageNet-pretrained AlexNet (``seed``
    initialises it when ``weights`` is None)."""
    from cnnpractice.smalldata.learned import decaf_features

    return decaf_features(data_dir=data_dir, out_paths=out_paths, weights=weights, accelerator=accelerator, seed=seed)


def classify_features(**kwargs: Any) -> list[dict[str, Any]]:
    """Score one feature set with the linear classifiers: :func:`.learned.classify`
    (keyword arguments: features, out, classifiers, cv_folds, c_grid, seed, dataset,
    feature_set, n_jobs)."""
    from cnnpractice.smalldata.learned import classify

    return classify(**kwargs)


def tabulate_smalldata(
    *,
    selections: Sequence[str | Path],
    finetune: Sequence[str | Path],
    scores: Sequence[str | Path],
    test_labels: Sequence[str | Path],
    datasets: Sequence[str],
    reference: str | Path,
    greedy_csv: str | Path,
    greedy_md: str | Path,
    features_csv: str | Path,
    features_md: str | Path,
) -> None:
    """The two tables: greedy vs end-to-end training (over seeds, paired), learned vs
    engineered features; each with the chance row of its test split (``test_labels``: one
    ``test_y.npy`` per dataset, in the order of ``datasets``)."""
    import numpy as np

    from cnnpractice.smalldata.datasets import talk_key
    from cnnpractice.smalldata.greedy_table import tabulate_greedy
    from cnnpractice.smalldata.tables import tabulate_features

    if len(test_labels) != len(datasets):
        raise ValueError(f"{len(test_labels)} test label files for {len(datasets)} datasets")
    labels = {ds: np.load(path) for ds, path in zip(datasets, test_labels)}
    tabulate_greedy(
        selections=selections,
        finetune=finetune,
        test_labels=labels,
        out_csv=greedy_csv,
        out_md=greedy_md,
        talk_keys={ds: talk_key(ds) for ds in datasets},
        reference=reference,
    )
    tabulate_features(scores=scores, test_labels=labels, out_csv=features_csv, out_md=features_md, reference=reference)


def plot_filters(*, greedy_ckpt: str | Path, full_ckpt: str | Path, out: str | Path, title: str) -> None:
    """First-layer filters of greedy vs end-to-end training."""
    from cnnpractice.smalldata.figures import plot_filters as draw

    draw(greedy_ckpt=greedy_ckpt, full_ckpt=full_ckpt, out=out, title=title)
