"""Learned features: CNN activations used as features for a traditional classifier.

* :func:`cnn_block_features` -- the global-average-pooled output of every conv
  block of a network trained by the workflow (greedy or end to end), so block b
  gives a (N, channels_b) feature matrix.
* :func:`decaf_features` -- DeCAF (Donahue et al. 2014): the fc6 / fc7
  activations (after their ReLU) of an ImageNet-pretrained torchvision AlexNet.
  Images are replicated to RGB when gray, scaled to [0, 1], resized to 224 px
  (bilinear) and normalised with ImageNet's mean and std.

Both stream over the uint8 image arrays in batches (memory O(batch), never all
activations at once) and write ``.npz`` files with ``train``, ``test``,
``train_y``, ``test_y`` arrays (float32 features, int64 labels).
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


def cnn_block_features(
    *,
    data_dir: str | Path,
    ckpt: str | Path,
    out_paths: dict[int, str | Path],
    batch_size: int = 256,
    accelerator: str = "auto",
) -> dict[int, tuple[int, ...]]:
    """GAP activations of blocks ``out_paths.keys()`` (1-based) of a trained checkpoint.

    Inputs are standardised exactly as in training (the checkpoint's ``test.json``
    beside it holds the training split's mean and std).
    """
    import json

    import torch

    from cnnpractice.training.module import ClassificationModule

    data = load_prepared(data_dir)
    info_file = Path(ckpt).with_name("test.json")
    norm = json.loads(info_file.read_text()).get("normalization")
    if not norm:
        raise ValueError(f"{info_file}: no 'normalization' (mean/std) recorded by the training")
    mean = np.asarray(norm["mean"], np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(norm["std"], np.float32).reshape(1, -1, 1, 1)
    device = choose_device(accelerator)
    net = ClassificationModule.from_checkpoint(ckpt).net.to(device).eval()
    blocks = sorted(out_paths)

    def run(batch: np.ndarray) -> dict[int, np.ndarray]:
        x = torch.from_numpy((batch.astype(np.float32) - mean) / std).to(device)
        return {b: v.cpu().numpy() for b, v in net.block_features(x, blocks).items()}

    return _extract_and_save(data, run, out_paths, batch_size, label="block")


def decaf_net(weights: str | None):
    """torchvision's AlexNet (``weights``: e.g. ``"IMAGENET1K_V1"``; None = random, for tests)."""
    import torchvision

    return torchvision.models.alexnet(weights=weights)


def decaf_features(
    *,
    data_dir: str | Path,
    out_paths: dict[str, str | Path],
    weights: str | None,
    batch_size: int = 128,
    input_size: int = 224,
    accelerator: str = "auto",
) -> dict[str, tuple[int, ...]]:
    """DeCAF features (``out_paths``: layer name in ``fc6``/``fc7`` -> ``.npz`` path)."""
    import torch
    import torch.nn.functional as F

    bad = set(out_paths) - set(DECAF_LAYERS)
    if bad:
        raise ValueError(f"unknown DeCAF layers {sorted(bad)}; expected {sorted(DECAF_LAYERS)}")
    data = load_prepared(data_dir)
    device = choose_device(accelerator)
    net = decaf_net(weights).to(device).eval()
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
    """Score one feature set with every classifier; write a JSON list of results."""
    from cnnpractice.io import load_npz, write_json
    from cnnpractice.smalldata.classify import evaluate_features

    arrays = load_npz(features, required={"train": "f", "test": "f", "train_y": "iu", "test_y": "iu"})
    rows = evaluate_features(
        arrays["train"],
        arrays["train_y"],
        arrays["test"],
        arrays["test_y"],
        classifiers=tuple(classifiers),
        cv_folds=cv_folds,
        seed=seed,
        c_grid=tuple(c_grid),
        n_jobs=n_jobs,
    )
    for row in rows:
        row.update(dataset=dataset, feature_set=feature_set)
        log.info(f"classify {dataset} {feature_set} {row['classifier']}: accuracy {row['accuracy']:.4f}")
    write_json(out, rows)
    return rows
