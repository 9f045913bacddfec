"""The elves study's CNN trainings: the detector (classification) and the locator (regression).

Both networks read the simulated shards (:func:`~cnnpractice.elves.simulate.load_shards`);
what they see is built by :mod:`~cnnpractice.elves.inputs`.

* :func:`train_detector` - elve / shower / noise / laser / lightning classification of
  every event.
* :func:`train_locator` - on elves only, from one eye or all of them: the stroke's km east
  and km north of the reference site and the log of its peak current, scored on the test
  split (nuisances) and on the nominal one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.elves.inputs import TARGETS, locator_inputs, locator_targets, noise_units, projections
from cnnpractice.elves.simulate import CLASSES, load_shards

log = logging.getLogger("cnnpractice.elves")


def net_spec(in_shape: Sequence[int], n_outputs: int, cnn: Mapping[str, Any]) -> dict[str, Any]:
    """Model spec of :class:`~cnnpractice.models.elves.ElvesCNN` from config ``elves.cnn``."""
    return {
        "name": "elves_cnn",
        "in_shape": [int(s) for s in in_shape],
        "n_outputs": int(n_outputs),
        **{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in cnn.items()},
    }


def per_class_subset(labels: np.ndarray, max_per_class: int | None, seed: int) -> np.ndarray:
    """Sorted indices of at most ``max_per_class`` events of each label (seeded; all if None)."""
    labels = np.asarray(labels)
    if max_per_class is None:
        return np.arange(len(labels))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1618]))
    keep = [rng.permutation(np.flatnonzero(labels == k))[: int(max_per_class)] for k in np.unique(labels)]
    return np.sort(np.concatenate(keep))


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
    max_per_class: int | None = None,
    inputs: str = "movies",
) -> dict[str, Any]:
    """Train the CNN that tells elves from showers, noise, laser shots and lightning
    (:data:`~cnnpractice.elves.simulate.CLASSES`) on :func:`noise_units` movies, from at most
    ``max_per_class`` training events of each class (a seeded subset; None: all); write
    model.ckpt, metrics.csv, test.json. The test split keeps its configured mix."""
    from cnnpractice.training.data import ArrayDataModule
    from cnnpractice.training.runner import fit_and_test
    from cnnpractice.training.settings import TrainingSettings

    train, test = load_shards(train_shards, settings), load_shards(test_shards, settings)
    keep = per_class_subset(train["label"], max_per_class, seed)
    options = TrainingSettings.from_config(training, key="elves.detector.training")
    transform = projections if inputs == "projections" else noise_units
    dm = ArrayDataModule(
        transform(train["movies"][keep], settings),
        train["label"][keep],
        transform(test["movies"], settings),
        test["label"],
        seed=seed,
        standardize="none",
        val_fraction=options.val_fraction,
        batch_size=options.batch_size,
    )
    spec = net_spec(dm.input_shape, len(CLASSES), cnn)
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
    eyes: Sequence[int] | None = None,
    nominal_shards: Sequence[str] = (),
    first_light: Mapping[str, Any] | None = None,
    inputs: str = "movies",
) -> dict[str, Any]:
    """Train the CNN that locates the stroke and measures its current, on elves only, from
    the eyes ``eyes`` (all by default; see :func:`locator_inputs`); test it on the elves of
    ``test_shards`` and of ``nominal_shards`` (simulated without nuisances). Writes
    model.ckpt, metrics.csv, test.json (``y_pred``/``y_true`` rows: east_km, north_km,
    ln current_ka; ``event_id`` and ``split`` (``test`` or ``nominal``) of each test elve)."""
    from cnnpractice.training.data import TargetArrayDataModule
    from cnnpractice.training.runner import fit_and_test
    from cnnpractice.training.settings import TrainingSettings

    train = load_shards(train_shards, settings)
    tests = {"test": load_shards(test_shards, settings)}
    if nominal_shards:
        tests["nominal"] = load_shards(nominal_shards, settings)
    train_idx, train_targets = locator_targets(train)
    parts = {name: locator_targets(data) for name, data in tests.items()}
    if not len(train_idx) or not all(len(idx) for idx, _ in parts.values()):
        raise ValueError("elves: the locator needs elves in every split (elves.events.classes.elve > 0)")
    options = TrainingSettings.from_config(training, key="elves.locator.training")

    def build(source, idx):
        return locator_inputs(source, idx, eyes, settings, first_light, projected=inputs == "projections")

    dm = TargetArrayDataModule(
        build(train, train_idx),
        train_targets,
        np.concatenate([build(tests[name], idx) for name, (idx, _) in parts.items()]),
        np.concatenate([targets for _, targets in parts.values()]),
        seed=seed,
        standardize="none" if first_light or inputs == "projections" else "global",
        val_fraction=options.val_fraction,
        batch_size=options.batch_size,
    )
    spec = net_spec(dm.input_shape, len(TARGETS), cnn)
    log.info(
        f"locator (eyes {eyes or 'all'}): {len(dm.train_idx)} train / {len(dm.val_idx)} val / "
        f"{', '.join(f'{len(idx)} {name}' for name, (idx, _) in parts.items())} test elves, spec={spec}"
    )
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
        extra_info={
            "event_id": np.concatenate([tests[name]["event_id"][idx] for name, (idx, _) in parts.items()]).tolist(),
            "split": [name for name, (idx, _) in parts.items() for _ in idx],
            "eyes": None if eyes is None else list(eyes),
        },
    )
    log.info(f"locator: test rmse {result['rmse']}")
    return result
