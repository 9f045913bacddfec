"""The elves study's CNN trainings as functions of paths and values.

Both networks read the simulated shards (:func:`~cnnpractice.elves.simulate.load_shards`),
as the Anscombe transform 2 sqrt(pe + 3/8) of the movies (it makes Poisson noise about
equally loud in dark and bright pixels; elves span three decades of brightness), then
standardised with the training split's mean and std.

* :func:`train_detector` - elve / shower / noise classification of every event.
* :func:`train_locator` - on elves only: the stroke's km east and km north of the
  reference site and the log of its peak current.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.elves.simulate import CLASSES, load_shards

TARGETS = ("east_km", "north_km", "log_current_ka")
OFFSET_SCALE_US = 10.0


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


def _split_training(training: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(data module settings, trainer/optimiser settings) of a training section."""
    training = dict(training)
    data = {"val_fraction": training.pop("val_fraction"), "batch_size": training.pop("batch_size")}
    return data, training


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
    from cnnpractice.training.runner import train_classifier

    train, test = load_shards(train_shards, settings), load_shards(test_shards, settings)
    data, training = _split_training(training)
    dm = ArrayDataModule(
        anscombe(train["movies"]),
        train["label"],
        anscombe(test["movies"]),
        test["label"],
        seed=seed,
        standardize="global",
        **data,
    )
    spec = net_spec(train["movies"].shape[1:], len(CLASSES), cnn)
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


def locator_inputs(data: Mapping[str, np.ndarray], idx: np.ndarray, eyes: Sequence[int] | None) -> np.ndarray:
    """The locator's input for events ``idx``: the Anscombe movies of the eyes ``eyes`` (all
    by default) and, with several eyes, one more "frame" per eye holding (its window start
    - the first eye's) / OFFSET_SCALE_US everywhere: the eyes' GPS clocks, which say when
    each eye saw the light relative to the others (the timing fit gets them too)."""
    movies = data["movies"][idx]
    if eyes is not None:
        movies = movies[:, list(eyes)]
    x = anscombe(movies)
    if x.shape[1] == 1:
        return x
    starts = data["window_start_us"][idx] if eyes is None else data["window_start_us"][idx][:, list(eyes)]
    offsets = (starts - starts[:, :1]).astype(np.float32) / OFFSET_SCALE_US
    plane = np.broadcast_to(offsets[:, :, None, None, None], (*x.shape[:2], 1, *x.shape[3:]))
    return np.concatenate([x, plane], axis=2)


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
    eyes: Sequence[int] | None = None,
    nominal_shards: Sequence[str] = (),
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
    dm = TargetArrayDataModule(
        locator_inputs(train, train_idx, eyes),
        train_targets,
        np.concatenate([locator_inputs(tests[name], idx, eyes) for name, (idx, _) in parts.items()]),
        np.concatenate([targets for _, targets in parts.values()]),
        seed=seed,
        standardize="global",
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
