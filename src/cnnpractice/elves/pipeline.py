"""The elves study's CNN trainings as functions of paths and values.

Both networks read the simulated shards (:func:`~cnnpractice.elves.simulate.load_shards`);
what they see is built by :mod:`~cnnpractice.elves.inputs`.

* :func:`train_detector` - elve / shower / noise / laser / lightning classification of
  every event.
* :func:`train_locator` - on elves only, from one eye or all of them: the stroke's km east
  and km north of the reference site and the log of its peak current, scored on the test
  split (nuisances) and on the nominal one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.elves.inputs import TARGETS, locator_inputs, locator_targets, noise_units, projections
from cnnpractice.elves.simulate import CLASSES, load_shards


def net_spec(in_shape: Sequence[int], n_outputs: int, cnn: Mapping[str, Any]) -> dict[str, Any]:
    """Model spec of :class:`~cnnpractice.models.elves.ElvesCNN` from config ``elves.cnn``."""
    return {
        "name": "elves_cnn",
        "in_shape": [int(s) for s in in_shape],
        "n_outputs": int(n_outputs),
        **{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in cnn.items()},
    }


def _split_training(training: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(data module settings, trainer/optimiser settings) of a training section."""
    training = dict(training)
    data = {"val_fraction": training.pop("val_fraction"), "batch_size": training.pop("batch_size")}
    return data, training


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
    from cnnpractice.training.runner import train_classifier

    train, test = load_shards(train_shards, settings), load_shards(test_shards, settings)
    keep = per_class_subset(train["label"], max_per_class, seed)
    data, training = _split_training(training)
    transform = projections if inputs == "projections" else noise_units
    dm = ArrayDataModule(
        transform(train["movies"][keep], settings),
        train["label"][keep],
        transform(test["movies"], settings),
        test["label"],
        seed=seed,
        standardize="none",
        **data,
    )
    spec = net_spec(dm.input_shape, len(CLASSES), cnn)
    print(
        f"[elves] detector: {len(dm.train_idx)} train / {len(dm.val_idx)} val / {len(test['label'])} test "
        f"events, spec={spec}"
    )
    result = train_classifier(
        net_spec=spec,
        datamodule=dm,
        out_dir=out_dir,
        seed=seed,
        trainer_options=dict(trainer),
        class_names=list(CLASSES),
        extra_info={"event_id": test["event_id"].tolist()},
        **training,
    )
    print(f"[elves] detector: test accuracy {result['test_accuracy']:.4f}")
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
    from cnnpractice.training.regression import TargetArrayDataModule, train_regressor

    train = load_shards(train_shards, settings)
    tests = {"test": load_shards(test_shards, settings)}
    if nominal_shards:
        tests["nominal"] = load_shards(nominal_shards, settings)
    train_idx, train_targets = locator_targets(train)
    parts = {name: locator_targets(data) for name, data in tests.items()}
    if not len(train_idx) or not all(len(idx) for idx, _ in parts.values()):
        raise ValueError("elves: the locator needs elves in every split (elves.events.classes.elve > 0)")
    data, training = _split_training(training)

    def build(source, idx):
        return locator_inputs(source, idx, eyes, settings, first_light, projected=inputs == "projections")

    dm = TargetArrayDataModule(
        build(train, train_idx),
        train_targets,
        np.concatenate([build(tests[name], idx) for name, (idx, _) in parts.items()]),
        np.concatenate([targets for _, targets in parts.values()]),
        seed=seed,
        standardize="none" if first_light or inputs == "projections" else "global",
        **data,
    )
    spec = net_spec(dm.input_shape, len(TARGETS), cnn)
    print(
        f"[elves] locator (eyes {eyes or 'all'}): {len(dm.train_idx)} train / {len(dm.val_idx)} val / "
        f"{', '.join(f'{len(idx)} {name}' for name, (idx, _) in parts.items())} test elves, spec={spec}"
    )
    result = train_regressor(
        net_spec=spec,
        datamodule=dm,
        out_dir=out_dir,
        seed=seed,
        loss=loss,
        trainer_options=dict(trainer),
        target_names=TARGETS,
        extra_info={
            "event_id": np.concatenate([tests[name]["event_id"][idx] for name, (idx, _) in parts.items()]).tolist(),
            "split": [name for name, (idx, _) in parts.items() for _ in idx],
            "eyes": None if eyes is None else list(eyes),
        },
        **training,
    )
    print(f"[elves] locator: test rmse {result['rmse']}")
    return result


def train_network(*, task: str, nominal_shards: Sequence[str] = (), **kwargs) -> dict[str, Any]:
    """:func:`train_detector` (``task="detector"``, scored on the test split) or
    :func:`train_locator` (``"locator"``, scored on the test and the nominal splits)."""
    if task == "locator":
        return train_locator(nominal_shards=nominal_shards, **kwargs)
    if task == "detector":
        return train_detector(**kwargs)
    raise ValueError(f"task must be one of ['detector', 'locator'], got {task!r}")
