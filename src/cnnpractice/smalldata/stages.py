"""The small-datasets study's rules as functions of paths and values: one function per rule,
named after it (``scripts/<rule>.py`` calls ``stages.<rule>``), each delegating to the
module that does the work.

===========================  ==========================================================
rule                         work
===========================  ==========================================================
fetch_smalldata              :func:`.datasets.fetch` (registry: :mod:`.registry`)
prepare_smalldata            :func:`.datasets.prepare` -> a prepared dataset
                             (:mod:`cnnpractice.data.prepared`)
train_smalldata              :func:`.training.train_stage` (greedy Lk, Full Lk)
finetune_smalldata           :func:`.training.finetune`
extract_engineered_features  :func:`.learned.engineered_features` (:mod:`.features`)
extract_cnn_features         :func:`.learned.cnn_block_features`
extract_decaf_features       :func:`.learned.decaf_features`
classify_features            :func:`.learned.classify` (:mod:`.classify`)
tabulate_smalldata           :func:`.tables.tabulate_greedy`, :func:`.tables.tabulate_features`
plot_filters                 :func:`.figures.plot_filters`
===========================  ==========================================================

Other studies reach this one through :func:`train_smalldata` only (the semantic study
trains its own network with it); the paths of its outputs are given to them by the rules
(``sd_prepared_files``, ``sd_checkpoint`` in ``rules/helpers/smalldata.smk``).
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
    """Train one stage (greedy Lk, or Full Lk end to end): :func:`.training.train_stage`
    (keyword arguments: data_dir, out_dir, dataset, arch, arch_params, kind, stage,
    training, trainer, seed, previous_ckpt, full_epochs). Writes ``out_dir/model.ckpt``,
    ``metrics.csv``, ``test.json`` (with the input ``normalization``), ``tensorboard/``."""
    from cnnpractice.smalldata.training import train_stage

    return train_stage(**kwargs)


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
    *, data_dir: str | Path, ckpt: str | Path, out_paths: dict[int, str | Path], accelerator: str
) -> dict[int, tuple[int, ...]]:
    """Global-average-pooled activations of each conv block of a trained L5 network."""
    from cnnpractice.smalldata.learned import cnn_block_features

    return cnn_block_features(data_dir=data_dir, ckpt=ckpt, out_paths=out_paths, accelerator=accelerator)


def extract_decaf_features(
    *, data_dir: str | Path, out_paths: dict[str, str | Path], weights: str | None, accelerator: str
) -> dict[str, tuple[int, ...]]:
    """DeCAF features: fc6/fc7 activations of an ImageNet-pretrained AlexNet."""
    from cnnpractice.smalldata.learned import decaf_features

    return decaf_features(data_dir=data_dir, out_paths=out_paths, weights=weights, accelerator=accelerator)


def classify_features(**kwargs: Any) -> list[dict[str, Any]]:
    """Score one feature set with the linear classifiers: :func:`.learned.classify`
    (keyword arguments: features, out, classifiers, cv_folds, c_grid, seed, dataset,
    feature_set, n_jobs)."""
    from cnnpractice.smalldata.learned import classify

    return classify(**kwargs)


def tabulate_smalldata(
    *,
    results: Sequence[str | Path],
    finetune: Sequence[str | Path],
    scores: Sequence[str | Path],
    datasets: Sequence[str],
    reference: str | Path,
    greedy_csv: str | Path,
    greedy_md: str | Path,
    features_csv: str | Path,
    features_md: str | Path,
) -> None:
    """The two tables: greedy vs end-to-end training, learned vs engineered features."""
    from cnnpractice.smalldata.datasets import talk_key
    from cnnpractice.smalldata.tables import tabulate_features, tabulate_greedy

    tabulate_greedy(
        results=results,
        finetune=finetune,
        out_csv=greedy_csv,
        out_md=greedy_md,
        talk_keys={ds: talk_key(ds) for ds in datasets},
        reference=reference,
    )
    tabulate_features(scores=scores, out_csv=features_csv, out_md=features_md, reference=reference)


def plot_filters(*, greedy_ckpt: str | Path, full_ckpt: str | Path, out: str | Path, title: str) -> None:
    """First-layer filters of greedy vs end-to-end training."""
    from cnnpractice.smalldata.figures import plot_filters as draw

    draw(greedy_ckpt=greedy_ckpt, full_ckpt=full_ckpt, out=out, title=title)
