"""Learned features: CNN activations used as features for a traditional classifier.

* :func:`cnn_block_features` -- the output of every conv block of a network trained by
  the workflow (greedy or end to end), average-pooled to a g x g grid for every g of
  ``grids``: g = 1 is global average pooling, (N, channels_b); g = 4 keeps a 4 x 4 map
  of where the features fire, (N, 16 channels_b), which brings the learned sets near
  the dimensionality of HOG. All sets of one network go into one file.
* :func:`decaf_features` -- DeCAF (Donahue et al. 2014): the fc6 / fc7
  activations (after their ReLU) of an ImageNet-pretrained torchvision AlexNet.
  Images are replicated to RGB when gray, scaled to [0, 1], resized to 224 px
  (bilinear) and normalised with ImageNet's mean and std.

Both stream over the uint8 image arrays in batches (memory O(batch), never all
activations at once) and write ``.npz`` files: one set per file with ``train``,
``test``, ``train_y``, ``test_y`` arrays (float32 features, int64 labels), or several
sets per file with ``<set>.train`` and ``<set>.test`` (:func:`feature_sets` reads both).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.data.prepared import load_prepared
from cnnpractice.io import save_npz
from cnnpractice.training.device import choose_device

log = logging.getLogger("cnnpractice.smalldata")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DECAF_LAYERS = {"fc6": 2, "fc7": 5}  # index into torchvision AlexNet.classifier, after the ReLU


def _stream(images: np.ndarray, fn: Callable, batch_size: int) -> list[dict[Any, np.ndarray]]:
    parts = []
    for start in range(0, len(images), batch_size):
        parts.append(fn(np.asarray(images[start : start + batch_size])))
    return parts


def _concat(parts: list[dict[Any, np.ndarray]], key) -> np.ndarray:
    return np.concatenate([p[key] for p in parts]).astype(np.float32, copy=False)


def _extract_and_save(
    data: dict[str, Any], fn: Callable, out_paths: dict[Any, str | Path], batch_size: int, label: str
) -> dict[Any, tuple[int, ...]]:
    """Run ``fn`` (a batch of uint8 images -> {key: features}) over both splits and write
    one ``.npz`` per key of ``out_paths`` (train/test features and labels)."""
    import torch

    with torch.inference_mode():
        train = _stream(data["train_x"], fn, batch_size)
        test = _stream(data["test_x"], fn, batch_size)
    shapes = {}
    for key, path in out_paths.items():
        arrays = {
            "train": _concat(train, key),
            "test": _concat(test, key),
            "train_y": np.asarray(data["train_y"]),
            "test_y": np.asarray(data["test_y"]),
        }
        save_npz(path, **arrays)
        shapes[key] = arrays["train"].shape
        log.info(f"features {label} {key}: train {arrays['train'].shape} test {arrays['test'].shape} -> {path}")
    return shapes


def set_name(name: str, block: int, grid: int) -> str:
    """``alexnet_full_conv3`` (global average pooling), ``alexnet_full_conv3_4x4``."""
    return f"{name}_conv{block}" + ("" if grid == 1 else f"_{grid}x{grid}")


def pooled_blocks(net, x, blocks: Sequence[int], grids: Sequence[int]) -> dict[tuple[int, int], Any]:
    """Block outputs of an AlexNet-style ``net`` pooled to g x g grids (adaptive average
    pooling, flattened channel-major): ``{(block, g): (batch, channels * g * g)}``. A grid
    finer than a block's map (e.g. 4 x 4 of conv5's 2 x 2 at 28 px) is left out."""
    import torch.nn.functional as F

    out = {}
    for i, block in enumerate(net.blocks, start=1):
        if i > max(blocks):
            break
        x = block(x)
        if i in blocks:
            for g in grids:
                if g <= min(x.shape[-2:]):
                    out[(i, g)] = F.adaptive_avg_pool2d(x, g).flatten(1)
    return out


def cnn_block_features(
    *,
    data_dir: str | Path,
    ckpt: str | Path,
    out: str | Path,
    name: str,
    grids: Sequence[int] = (1,),
    blocks: Sequence[int] = (1, 2, 3, 4, 5),
    batch_size: int = 256,
    accelerator: str = "auto",
) -> dict[str, tuple[int, ...]]:
    """Pooled activations of ``blocks`` (1-based) of a trained checkpoint at every grid of
    ``grids``, written to one ``.npz`` (sets :func:`set_name`); returns set -> train shape.

    Inputs are standardised exactly as in training (the checkpoint's ``test.json``
    beside it holds the training split's mean and std).
    """
    import json

    import torch

    from cnnpractice.training.module import ClassificationModule

    grids = sorted({int(g) for g in grids})
    if not grids or grids[0] < 1:
        raise ValueError(f"smalldata.features.pooling: grid sides must be integers >= 1, got {grids}")
    data = load_prepared(data_dir)
    info_file = Path(ckpt).with_name("test.json")
    norm = json.loads(info_file.read_text()).get("normalization")
    if not norm:
        raise ValueError(f"{info_file}: no 'normalization' (mean/std) recorded by the training")
    mean = np.asarray(norm["mean"], np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(norm["std"], np.float32).reshape(1, -1, 1, 1)
    device = choose_device(accelerator)
    net = ClassificationModule.from_checkpoint(ckpt).net.to(device).eval()

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        x = torch.from_numpy((batch.astype(np.float32) - mean) / std).to(device)
        pooled = pooled_blocks(net, x, blocks, grids)
        return {set_name(name, b, g): v.cpu().numpy() for (b, g), v in pooled.items()}

    with torch.inference_mode():
        train = _stream(data["train_x"], run, batch_size)
        test = _stream(data["test_x"], run, batch_size)
    sets = list(train[0])
    skipped = [set_name(name, b, g) for b in blocks for g in grids if set_name(name, b, g) not in sets]
    if skipped:
        log.info(f"features {name}: grids finer than the block's map left out: {skipped}")
    arrays = {"train_y": np.asarray(data["train_y"]), "test_y": np.asarray(data["test_y"])}
    for key in sets:
        arrays[f"{key}.train"], arrays[f"{key}.test"] = _concat(train, key), _concat(test, key)
    save_npz(out, **arrays)
    shapes = {key: arrays[f"{key}.train"].shape for key in sets}
    log.info(f"features {name}: {len(sets)} sets (dims {[s[1] for s in shapes.values()]}) -> {out}")
    return shapes


def feature_sets(path: str | Path, default_name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The feature sets of one file, name -> (train, test): a single-set file (``train``,
    ``test``) is named ``default_name``; a multi-set file names its sets."""
    with np.load(path, allow_pickle=False) as npz:
        keys = set(npz.files)
        if {"train", "test"} <= keys:
            return {default_name: (npz["train"], npz["test"])}
        names = sorted(k[: -len(".train")] for k in keys if k.endswith(".train"))
        if not names or any(f"{n}.test" not in keys for n in names):
            raise ValueError(f"{path}: expected 'train'/'test' arrays or '<set>.train'/'<set>.test' pairs")
        return {n: (npz[f"{n}.train"], npz[f"{n}.test"]) for n in names}


def decaf_net(weights: str | None, seed: int = 0):
    """torchvision's AlexNet (``weights``: e.g. ``"IMAGENET1K_V1"``; None = random, for
    tests, initialised from ``seed`` so that the same config gives the same features)."""
    import torch
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torchvision.models.alexnet(weights=weights)


def decaf_features(
    *,
    data_dir: str | Path,
    out_paths: dict[str, str | Path],
    weights: str | None,
    batch_size: int = 128,
    input_size: int = 224,
    accelerator: str = "auto",
    seed: int = 0,
) -> dict[str, tuple[int, ...]]:
    """DeCAF features (``out_paths``: layer name in ``fc6``/``fc7`` -> ``.npz`` path;
    ``seed`` initialises a random network, ``weights`` None)."""
    import torch
    import torch.nn.functional as F

    bad = set(out_paths) - set(DECAF_LAYERS)
    if bad:
        raise ValueError(f"unknown DeCAF layers {sorted(bad)}; expected {sorted(DECAF_LAYERS)}")
    data = load_prepared(data_dir)
    device = choose_device(accelerator)
    net = decaf_net(weights, seed).to(device).eval()
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    layers = sorted(out_paths, key=DECAF_LAYERS.get)
    last = max(DECAF_LAYERS[name] for name in layers)

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        x = torch.from_numpy(batch).to(device).float().div_(255.0)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-1] != input_size or x.shape[-2] != input_size:
            x = F.interpolate(x, size=(input_size, input_size), mode="bilinear", align_corners=False)
        h = net.avgpool(net.features((x - mean) / std)).flatten(1)
        out = {}
        for i, layer in enumerate(net.classifier[: last + 1]):
            h = layer(h)
            for name in layers:
                if DECAF_LAYERS[name] == i:
                    out[name] = h.cpu().numpy()
        return out

    return _extract_and_save(data, run, out_paths, batch_size, label="DeCAF")


def engineered_features(
    *, data_dir: str | Path, out: str | Path, name: str, params: dict[str, Any] | None = None
) -> tuple[int, ...]:
    """One engineered feature set (``hog``, ``hgd``, ``hcfeats``) of both splits as ``.npz``."""
    from cnnpractice.smalldata.features import extract

    data = load_prepared(data_dir)
    arrays = {
        "train": extract(name, data["train_x"], params),
        "test": extract(name, data["test_x"], params),
        "train_y": np.asarray(data["train_y"]),
        "test_y": np.asarray(data["test_y"]),
    }
    save_npz(out, **arrays)
    log.info(f"features {name}: train {arrays['train'].shape} test {arrays['test'].shape} -> {out}")
    return arrays["train"].shape


def classify(
    *,
    features: str | Path,
    out: str | Path,
    classifiers: Sequence[str],
    cv_folds: int,
    c_grid: Sequence[float],
    seed: int,
    dataset: str,
    feature_set: str,
    n_jobs: int = 1,
) -> list[dict[str, Any]]:
    """Score every feature set of one file (``feature_set``: the file's name, and the name
    of a single-set file) with every classifier; write a JSON list of results. ``C`` is
    chosen by cross-validation on the training split only (:func:`.classify.evaluate_features`)."""
    from cnnpractice.io import load_npz, write_json
    from cnnpractice.smalldata.classify import evaluate_features

    labels = load_npz(features, required={"train_y": "iu", "test_y": "iu"})
    rows = []
    for name, (train, test) in feature_sets(features, feature_set).items():
        if train.dtype.kind != "f" or test.dtype.kind != "f":
            raise ValueError(f"{features}: feature set {name!r} is not float")
        scored = evaluate_features(
            train,
            labels["train_y"],
            test,
            labels["test_y"],
            classifiers=tuple(classifiers),
            cv_folds=cv_folds,
            seed=seed,
            c_grid=tuple(c_grid),
            n_jobs=n_jobs,
        )
        for row in scored:
            row.update(dataset=dataset, feature_set=name, feature_file=feature_set)
            log.info(
                f"classify {dataset} {name} ({row['n_features']} dims) {row['classifier']}: "
                f"C {row['best_C']:g} (CV {row['cv_accuracy']}), test accuracy {row['accuracy']:.4f}"
            )
        rows.extend(scored)
    write_json(out, rows)
    return rows
