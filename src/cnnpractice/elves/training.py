"""The elves study's CNN trainings: the detector (classification) and the locator (regression).

Both networks read the simulated shards (:func:`~cnnpractice.elves.simulate.load_shards`),
as the Anscombe transform 2 sqrt(pe + 3/8) of the movies (it makes Poisson noise about
equally loud in dark and bright pixels; elves span three decades of brightness), then
standardised with the training split's mean and std.

* :func:`train_detector` - elve / shower / noise classification of every event.
* :func:`train_locator` - on elves only: the stroke's km east and km north of the
  reference site and the log of its peak current.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.elves.simulate import CLASSES, load_shards

log = logging.getLogger("cnnpractice.elves")

TARGETS = ("east_km", "north_km", "log_current_ka")


def anscombe(movies: np.ndarray, chunk: int = 512) -> np.ndarray:
    """2 sqrt(max(x, 0) + 3/8) as float32, chunk by chunk (movies are float16 pe)."""
    out = np.empty(movies.shape, dtype=np.float32)
    for start in range(0, len(movies), chunk):
        block = np.asarray(movies[start : start + chunk], dtype=np.float32)
        out[start : start + chunk] = 2.0 * np.sqrt(np.maximum(block, 0.0) + 0.375)
    return out


def net_spec(in_shape: Sequence[int], n_outputs: int, cnn: Mapping[str, Any]) -> dict[str, Any]:
    """Model spec of :class:`~cnnpractice.models.elves.ElvesCNN` from config ``elves.cnn``."""
    return {
        "name": "elves_cnn",
        "in_shape": [int(s) for s in in_shape],
        "n_outputs": int(n_outputs),
        **{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in cnn.items()},
    }


def train_detector(
    *,
    train_shards: Sequence[str],
    test_shards: Sequence[str],
    out_dir: str | Path,
    settings: Mapping[str, Any],
    cnn: Mapping[str, Any],
    training: Mapping[str, Any],
    trainer: Mapping[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Train the elve / shower / noise CNN; write model.ckpt, metrics.csv, test.json."""
    from cnnpractice.training.data import ArrayDataModule
    from cnnpractice.training.runner import fit_and_test
    from cnnpractice.training.settings import TrainingSettings

    train, test = load_shards(train_shards, settings), load_shards(test_shards, settings)
    options = TrainingSettings.from_config(training, key="elves.detector.training")
    dm = ArrayDataModule(
        anscombe(train["movies"]),
        train["label"],
        anscombe(test["movies"]),
        test["label"],
        seed=seed,
        standardize="global",
        val_fraction=options.val_fraction,
        batch_size=options.batch_size,
    )
    spec = net_spec(train["movies"].shape[1:], len(CLASSES), cnn)
    log.info(
        f"detector: {len(dm.train_idx)} train / {len(dm.val_idx)} val / {len(test['label'])} test events, spec={spec}"
    )
    result = fit_and_test(
        task="classification",
        net_spec=spec,
        datamodule=dm,
        out_dir=out_dir,
        fit=options.fit,
        seed=seed,
        trainer_options=dict(trainer),
        class_names=list(CLASSES),
        extra_info={"event_id": test["event_id"].tolist()},
    )
    log.info(f"detector: test accuracy {result['test_accuracy']:.4f}")
    return result


def locator_targets(data: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the elves and their targets (n, 3): east, north (km), ln(current / kA)."""
    elves = np.flatnonzero(data["label"] == CLASSES.index("elve"))
    targets = np.stack([data["east_km"][elves], data["north_km"][elves], np.log(data["current_ka"][elves])], axis=1)
    return elves, targets


def train_locator(
    *,
    train_shards: Sequence[str],
    test_shards: Sequence[str],
    out_dir: str | Path,
    settings: Mapping[str, Any],
    cnn: Mapping[str, Any],
    training: Mapping[str, Any],
    loss: str,
    trainer: Mapping[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Train the CNN that locates the stroke and measures its current, on elves only;
    write model.ckpt, metrics.csv, test.json (``y_pred``/``y_true`` rows: east_km,
    north_km, ln current_ka; ``event_id`` of each test elve)."""
    from cnnpractice.training.data import TargetArrayDataModule
    from cnnpractice.training.runner import fit_and_test
    from cnnpractice.training.settings import TrainingSettings

    train, test = load_shards(train_shards, settings), load_shards(test_shards, settings)
    train_idx, train_targets = locator_targets(train)
    test_idx, test_targets = locator_targets(test)
    if not len(train_idx) or not len(test_idx):
        raise ValueError("elves: the locator needs elves in both splits (elves.events.classes.elve > 0)")
    options = TrainingSettings.from_config(training, key="elves.locator.training")
    dm = TargetArrayDataModule(
        anscombe(train["movies"][train_idx]),
        train_targets,
        anscombe(test["movies"][test_idx]),
        test_targets,
        seed=seed,
        standardize="global",
        val_fraction=options.val_fraction,
        batch_size=options.batch_size,
    )
    spec = net_spec(train["movies"].shape[1:], len(TARGETS), cnn)
    log.info(f"locator: {len(dm.train_idx)} train / {len(dm.val_idx)} val / {len(test_idx)} test elves, spec={spec}")
    result = fit_and_test(
        task="regression",
        net_spec=spec,
        datamodule=dm,
        out_dir=out_dir,
        fit=options.fit,
        seed=seed,
        loss=loss,
        trainer_options=dict(trainer),
        target_names=TARGETS,
        extra_info={"event_id": test["event_id"][test_idx].tolist()},
    )
    log.info(f"locator: test rmse {result['rmse']}")
    return result
