"""Where the images and the networks of the semantic study come from.

Images (each source has ``classes``, ``class_ids``, ``labels`` and yields
``(images float32 (batch, C, H, W), labels int64 (batch,))`` from ``batches()``):

* :class:`ArrayImages` -- a prepared dataset folder (``<split>_x.npy`` uint8
  (N, C, S, S), ``<split>_y.npy``, ``classes.json``: :mod:`cnnpractice.data.prepared`,
  written by the small-data study's ``prepare_smalldata`` or by :mod:`cnnpractice.semantic.cifar100`),
  standardised with the mean/std the network was trained with. Rows are read
  from the file batch by batch (not memory-mapped), so memory does not grow
  with the number of images.
* :class:`ImageFolderImages` -- ImageNet as the ``prepare_imagenet`` rule wrote it
  from the user's copy (:mod:`cnnpractice.data.imagenet`: ``<split>/<wnid>/*.JPEG``
  and ``classes.json``, checked complete). Resized, centre-cropped and
  normalised as torchvision's ImageNet weights expect; decoded by DataLoader
  workers.

Networks: :func:`workflow_network` (a checkpoint trained by the workflow, and
its input standardisation) and :func:`torchvision_network` (an ImageNet model
such as ``googlenet`` or ``vgg16``). :func:`open_source` and :func:`open_network`
build either from the rule's description.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def first_per_class(labels: np.ndarray, n: int | None, n_classes: int) -> np.ndarray:
    """Sorted indices of the first ``n`` items of every class (all when ``n`` is None)."""
    labels = np.asarray(labels)
    if n is None:
        return np.arange(len(labels))
    keep = [np.flatnonzero(labels == c)[:n] for c in range(n_classes)]
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)


class NpyRows:
    """Rows of a C-ordered ``.npy`` array read from the file on demand (no memory map)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with open(self.path, "rb") as fh:
            try:
                version = np.lib.format.read_magic(fh)
                read_header = (
                    np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(fh)
            except ValueError as exc:
                raise ValueError(f"{self.path}: not a .npy array ({exc})") from exc
            self.offset = fh.tell()
        if fortran or dtype.hasobject:
            raise ValueError(f"{self.path}: expected a C-ordered numeric array")
        self.shape, self.dtype = tuple(shape), dtype
        self.row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, rows: np.ndarray) -> np.ndarray:
        """The rows ``rows`` (sorted indices), one read per contiguous run."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        runs = np.split(np.arange(len(rows)), np.flatnonzero(np.diff(rows) != 1) + 1)
        with open(self.path, "rb") as fh:
            for run in runs:
                if not len(run):
                    continue
                fh.seek(self.offset + int(rows[run[0]]) * self.row_bytes)
                data = fh.read(len(run) * self.row_bytes)
                if len(data) != len(run) * self.row_bytes:
                    raise ValueError(f"{self.path}: file ends before row {rows[run[-1]]}")
                out[run[0] : run[-1] + 1] = np.frombuffer(data, self.dtype).reshape(len(run), *self.shape[1:])
        return out


class ArrayImages:
    """One split of a prepared dataset folder, standardised as ``(x - mean) / std``.

    mean, std: per channel (length C) or scalars, as recorded by the training.
    """

    def __init__(
        self,
        data_dir: str | Path,
        *,
        split: str,
        mean: Sequence[float],
        std: Sequence[float],
        images_per_class: int | None = None,
        batch_size: int = 256,
    ):
        from cnnpractice.data.prepared import load_prepared

        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        prepared = load_prepared(data_dir)  # checks every file; the images stay on disk
        self.classes = list(prepared["classes"])
        self.class_ids = list(self.classes)
        self.rows = NpyRows(Path(data_dir) / f"{split}_x.npy")
        all_labels = np.asarray(prepared[f"{split}_y"], dtype=np.int64)
        self.index = first_per_class(all_labels, images_per_class, len(self.classes))
        self.labels = all_labels[self.index]
        channels = self.rows.shape[1]
        self.mean = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
        self.std = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
        if self.mean.size not in (1, channels) or self.std.size not in (1, channels):
            raise ValueError(
                f"{data_dir}: images have {channels} channels but the network's "
                f"normalisation has {self.mean.size} means / {self.std.size} stds"
            )
        self.batch_size = batch_size

    def batches(self) -> Iterator[tuple[Any, Any]]:
        import torch

        for start in range(0, len(self.index), self.batch_size):
            rows = self.index[start : start + self.batch_size]
            x = (self.rows.read(rows).astype(np.float32) - self.mean) / self.std
            yield torch.from_numpy(x), torch.from_numpy(self.labels[start : start + self.batch_size])


def imagenet_transform(resize: int = 256, crop: int = 224):
    """torchvision's ImageNet evaluation preset: resize the short side (bilinear,
    antialiased), centre crop, scale to [0, 1], normalise with ImageNet's mean/std."""
    from torchvision import transforms

    return transforms.Compose(
        [
            transforms.Resize(resize, interpolation=transforms.InterpolationMode.BILINEAR, antialias=True),
            transforms.CenterCrop(crop),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


def open_imagenet(root: str | Path, split: str, transform, config_key: str):
    """(dataset, wnids, human-readable class names) of ImageNet as ``prepare_imagenet``
    (:mod:`cnnpractice.data.imagenet`) wrote it at ``root``: ``<split>/<wnid>/`` images and
    ``classes.json`` (checked complete when it was written)."""
    from torchvision.datasets import ImageFolder

    from cnnpractice.data.imagenet import load_classes

    root = Path(root)
    if not (root / "classes.json").is_file() or not (root / split).is_dir():
        raise FileNotFoundError(
            f"{config_key}: {root} is not a prepared ImageNet folder (classes.json, {split}/<wnid>/); "
            "the prepare_imagenet rule writes it from your copy"
        )
    classes = load_classes(root)
    dataset = ImageFolder(str(root / split), transform=transform)
    if list(dataset.classes) != [c["wnid"] for c in classes]:
        raise ValueError(f"{root}: the class folders of {split}/ differ from classes.json; rerun prepare_imagenet")
    return dataset, list(dataset.classes), [c["name"] for c in classes]


class ImageFolderImages:
    """An ImageNet split (see :func:`open_imagenet`), decoded by ``workers`` processes."""

    def __init__(
        self,
        root: str | Path,
        *,
        split: str = "val",
        resize: int = 256,
        crop: int = 224,
        images_per_class: int | None = None,
        batch_size: int = 128,
        workers: int = 0,
        pin_memory: bool = False,
        config_key: str = "semantic.datasets.imagenet.root",
    ):
        dataset, self.class_ids, self.classes = open_imagenet(root, split, imagenet_transform(resize, crop), config_key)
        all_labels = np.asarray(dataset.targets, dtype=np.int64)
        self.index = first_per_class(all_labels, images_per_class, len(self.class_ids))
        self.labels = all_labels[self.index]
        self.dataset = dataset
        self.batch_size, self.workers, self.pin_memory = batch_size, workers, pin_memory

    def batches(self) -> Iterator[tuple[Any, Any]]:
        from torch.utils.data import DataLoader, Subset

        loader = DataLoader(
            Subset(self.dataset, self.index.tolist()),
            batch_size=self.batch_size,
            shuffle=False,
            num_workers=self.workers,
            pin_memory=self.pin_memory,
            persistent_workers=False,
        )
        yield from loader


def workflow_network(ckpt: str | Path) -> tuple[Any, dict[str, list[float]]]:
    """(network in eval mode, {"mean", "std"}) of a checkpoint written by the workflow's
    training runner; the standardisation is the ``normalization`` of its ``test.json``."""
    from cnnpractice.training.module import ClassificationModule

    ckpt = Path(ckpt)
    info_file = ckpt.with_name("test.json")
    try:
        norm = json.loads(info_file.read_text()).get("normalization")
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise ValueError(f"{info_file}: missing or not JSON ({exc})") from exc
    if not norm or "mean" not in norm or "std" not in norm:
        raise ValueError(f"{info_file}: no 'normalization' (mean/std) recorded by the training")
    net = ClassificationModule.from_checkpoint(ckpt).net.eval()
    return net, {"mean": list(norm["mean"]), "std": list(norm["std"])}


def torchvision_network(arch: str, weights: str | None):
    """A torchvision classification model in eval mode (``weights``: e.g. ``IMAGENET1K_V1``,
    downloaded into ``$TORCH_HOME`` on first use; None = random, for tests)."""
    import torchvision

    # random weights serve tests only: skip GoogLeNet's slow scipy-based initialisation
    extra = {"init_weights": False} if weights is None and arch in ("googlenet", "inception_v3") else {}
    try:
        return torchvision.models.get_model(arch, weights=weights, **extra).eval()
    except (ValueError, KeyError) as exc:
        raise ValueError(f"torchvision model {arch!r} with weights {weights!r}: {exc}") from exc


NETWORK_KINDS = ("workflow", "torchvision")
DATASET_KINDS = ("arrays", "imagenet")


def open_source(
    dataset: Mapping[str, Any],
    *,
    normalization: Mapping[str, Sequence[float]] | None,
    batch_size: int,
    workers: int = 0,
    pin_memory: bool = False,
):
    """The image source described by ``dataset`` (``kind`` ``arrays`` or ``imagenet``)."""
    kind = dataset.get("kind")
    if kind == "arrays":
        if normalization is None:
            raise ValueError("prepared arrays need the network's input normalisation (a workflow checkpoint)")
        return ArrayImages(
            dataset["data_dir"],
            split=dataset.get("split", "test"),
            mean=normalization["mean"],
            std=normalization["std"],
            images_per_class=dataset.get("images_per_class"),
            batch_size=batch_size,
        )
    if kind == "imagenet":
        if not dataset.get("root"):
            raise ValueError(
                f"{dataset.get('config_key', 'semantic.datasets.imagenet.root')} is not set: "
                "point it at your local ImageNet copy"
            )
        return ImageFolderImages(
            dataset["root"],
            split=dataset.get("split", "val"),
            resize=dataset.get("resize", 256),
            crop=dataset.get("crop", 224),
            images_per_class=dataset.get("images_per_class"),
            batch_size=batch_size,
            workers=workers,
            pin_memory=pin_memory,
            config_key=dataset.get("config_key", "semantic.datasets.imagenet.root"),
        )
    raise ValueError(f"dataset kind must be one of {DATASET_KINDS}, got {kind!r}")


def open_network(network: Mapping[str, Any], ckpt: str | Path | None):
    """(network in eval mode, input normalisation or None) described by ``network``."""
    kind = network.get("kind")
    if kind == "workflow":
        if ckpt is None:
            raise ValueError("a workflow network needs its checkpoint")
        return workflow_network(ckpt)
    if kind == "torchvision":
        return torchvision_network(network["arch"], network.get("weights")), None
    raise ValueError(f"network kind must be one of {NETWORK_KINDS}, got {kind!r}")
