"""CIFAR-100 for the semantic study: download, preparation, and its classes' WordNet synsets.

* :func:`fetch` downloads ``cifar-100-python.tar.gz`` (Krizhevsky 2009; the md5
  torchvision checks) and unpacks it into ``raw_dir`` (staged, renamed at the end). Its
  files are pickles: the only pickle the package reads (see :func:`_unpickle`).
* :func:`prepare` writes the prepared-dataset layout the rest of the workflow
  reads (:mod:`cnnpractice.data.prepared`): ``train_x.npy``,
  ``test_x.npy`` (uint8 (n, 3, 32, 32)), ``train_y.npy``, ``test_y.npy`` (int64,
  the 100 fine labels) and ``classes.json``.
* :data:`SYNSETS` maps the 100 fine class names to WordNet 3.0 noun synsets
  (chosen by reading the glosses; config entries override single classes).
"""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.io import write_json

log = logging.getLogger("cnnpractice.semantic")

URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
MD5 = "eb9058c3a382ffc7106e4002c42a8d85"  # torchvision.datasets.CIFAR100.tgz_md5
FOLDER = "cifar-100-python"

SYNSETS: dict[str, str] = {
    "apple": "apple.n.01",
    "aquarium_fish": "goldfish.n.01",
    "baby": "baby.n.01",
    "bear": "bear.n.01",
    "beaver": "beaver.n.07",
    "bed": "bed.n.01",
    "bee": "bee.n.01",
    "beetle": "beetle.n.01",
    "bicycle": "bicycle.n.01",
    "bottle": "bottle.n.01",
    "bowl": "bowl.n.03",
    "boy": "male_child.n.01",
    "bridge": "bridge.n.01",
    "bus": "bus.n.01",
    "butterfly": "butterfly.n.01",
    "camel": "camel.n.01",
    "can": "can.n.01",
    "castle": "castle.n.02",
    "caterpillar": "caterpillar.n.01",
    "cattle": "cattle.n.01",
    "chair": "chair.n.01",
    "chimpanzee": "chimpanzee.n.01",
    "clock": "clock.n.01",
    "cloud": "cloud.n.02",
    "cockroach": "cockroach.n.01",
    "couch": "sofa.n.01",
    "crab": "crab.n.01",
    "crocodile": "crocodile.n.01",
    "cup": "cup.n.01",
    "dinosaur": "dinosaur.n.01",
    "dolphin": "dolphin.n.02",
    "elephant": "elephant.n.01",
    "flatfish": "flatfish.n.02",
    "forest": "forest.n.01",
    "fox": "fox.n.01",
    "girl": "female_child.n.01",
    "hamster": "hamster.n.01",
    "house": "house.n.01",
    "kangaroo": "kangaroo.n.01",
    "keyboard": "computer_keyboard.n.01",
    "lamp": "lamp.n.02",
    "lawn_mower": "lawn_mower.n.01",
    "leopard": "leopard.n.02",
    "lion": "lion.n.01",
    "lizard": "lizard.n.01",
    "lobster": "lobster.n.02",
    "man": "man.n.01",
    "maple_tree": "maple.n.02",
    "motorcycle": "motorcycle.n.01",
    "mountain": "mountain.n.01",
    "mouse": "mouse.n.01",
    "mushroom": "mushroom.n.02",
    "oak_tree": "oak.n.02",
    "orange": "orange.n.01",
    "orchid": "orchid.n.01",
    "otter": "otter.n.02",
    "palm_tree": "palm.n.03",
    "pear": "pear.n.01",
    "pickup_truck": "pickup.n.01",
    "pine_tree": "pine.n.01",
    "plain": "plain.n.01",
    "plate": "plate.n.04",
    "poppy": "poppy.n.01",
    "porcupine": "porcupine.n.01",
    "possum": "opossum.n.02",
    "rabbit": "rabbit.n.01",
    "raccoon": "raccoon.n.02",
    "ray": "ray.n.07",
    "road": "road.n.01",
    "rocket": "rocket.n.01",
    "rose": "rose.n.01",
    "sea": "sea.n.01",
    "seal": "seal.n.09",
    "shark": "shark.n.01",
    "shrew": "shrew.n.02",
    "skunk": "skunk.n.04",
    "skyscraper": "skyscraper.n.01",
    "snail": "snail.n.01",
    "snake": "snake.n.01",
    "spider": "spider.n.01",
    "squirrel": "squirrel.n.01",
    "streetcar": "streetcar.n.01",
    "sunflower": "sunflower.n.01",
    "sweet_pepper": "sweet_pepper.n.02",
    "table": "table.n.02",
    "tank": "tank.n.01",
    "telephone": "telephone.n.01",
    "television": "television_receiver.n.01",
    "tiger": "tiger.n.02",
    "tractor": "tractor.n.01",
    "train": "train.n.01",
    "trout": "trout.n.02",
    "tulip": "tulip.n.01",
    "turtle": "turtle.n.02",
    "wardrobe": "wardrobe.n.01",
    "whale": "baleen_whale.n.01",
    "willow_tree": "willow.n.01",
    "wolf": "wolf.n.01",
    "woman": "woman.n.01",
    "worm": "worm.n.01",
}


def fetch(raw_dir: str | os.PathLike, *, url: str = URL, md5: str = MD5, downloads=None) -> dict[str, Any]:
    """Download and unpack CIFAR-100 into ``raw_dir`` (``raw_dir/cifar-100-python/``).

    ``downloads`` (:class:`cnnpractice.data.downloads.Downloads`): mirror, checksum
    overrides and the folder where the archive waits until unpacked (default: the original
    URL, ``<raw_dir>/../downloads``). The md5 is checked before anything is unpacked."""
    from cnnpractice.data.archives import staged_dir
    from cnnpractice.data.downloads import Downloads

    raw_dir = Path(raw_dir)
    downloads = (downloads or Downloads(dataset="cifar100")).with_folder(raw_dir.parent / "downloads")
    archive, received = downloads.fetch_cached(url, md5=md5)
    with staged_dir(raw_dir, "fetch", replace="fetch.json") as stage:
        downloads.unpack(url, archive, received, stage, max_members=100)
        info = {"name": "cifar100", "source": "download", "files": [received]}
        write_json(stage / "fetch.json", info)
    downloads.discard(archive)
    log.info(f"cifar100: {received['size']} bytes from {received.get('source', url)} -> {raw_dir}")
    return info


def _unpickle(path: Path) -> dict:
    """The one pickle the package reads: CIFAR-100's "python version" is only published as
    pickled dicts. Unpickling runs code a crafted file may hold, so the archive's md5
    (torchvision's) is verified before it is unpacked (:func:`fetch`); every other file the
    workflow reads is parsed without pickle (``np.load(allow_pickle=False)``, checkpoints
    with ``torch.load(weights_only=True)``)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the fetch_cifar100 rule (or unpack {Path(URL).name} there)")
    with open(path, "rb") as fh:
        try:
            return pickle.load(fh, encoding="latin1")
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise ValueError(f"{path}: not a CIFAR-100 pickle ({exc})") from exc


def read_split(raw_dir: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, 3, 32, 32), fine labels int64 (n,)) of ``train`` or ``test``."""
    path = Path(raw_dir) / FOLDER / split
    batch = _unpickle(path)
    try:
        x = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        y = np.asarray(batch["fine_labels"], dtype=np.int64)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{path}: unexpected content ({exc})") from exc
    if len(x) != len(y):
        raise ValueError(f"{path}: {len(x)} images but {len(y)} labels")
    return x, y


def class_names(raw_dir: str | os.PathLike) -> list[str]:
    path = Path(raw_dir) / FOLDER / "meta"
    names = _unpickle(path).get("fine_label_names")
    if not names or len(names) != 100:
        raise ValueError(f"{path}: expected 100 fine_label_names")
    return list(names)


def prepare(
    raw_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    train_per_class: int | None,
    test_per_class: int | None,
    seed: int,
) -> dict[str, Any]:
    """Write the prepared layout (see the module docstring) with ``*_per_class`` images per
    class drawn with ``seed`` (None: all; streams ``[seed, 1]`` train, ``[seed, 2]`` test)."""
    from cnnpractice.data.archives import staged_dir
    from cnnpractice.data.prepared import per_class

    classes = class_names(raw_dir)
    info: dict[str, Any] = {
        "name": "cifar100",
        "classes": classes,
        "image_size": 32,
        "channels": 3,
        "seed": seed,
        "train_per_class": train_per_class,
        "test_per_class": test_per_class,
        "counts": {},
    }
    with staged_dir(Path(out_dir), "prepare", replace="classes.json") as stage:
        for split, k, stream in (("train", train_per_class, 1), ("test", test_per_class, 2)):
            x, y = read_split(raw_dir, split)
            keep = per_class(y, k, np.random.default_rng([seed, stream]), classes, f"cifar100 {split}")
            np.save(stage / f"{split}_x.npy", np.ascontiguousarray(x[keep]))
            np.save(stage / f"{split}_y.npy", y[keep])
            info[f"n_{split}"] = int(len(keep))
            info["counts"][split] = {c: int(np.sum(y[keep] == i)) for i, c in enumerate(classes)}
        write_json(stage / "classes.json", info)
    log.info(f"cifar100: prepared {info['n_train']} train, {info['n_test']} test images in {out_dir}")
    return info
