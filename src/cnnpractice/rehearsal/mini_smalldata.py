"""Miniatures of the small-data study's downloads (:data:`cnnpractice.smalldata.registry.DATASETS`).

URLs and published md5s are read from that registry, so the miniature sits where the
code looks. Per dataset (real layout -> miniature):

* ``fashion_mnist``: four gzipped IDX files at the first mirror; 10 classes, 28 x 28
  uint8; :data:`FASHION_PER_CLASS` train / test images per class.
* ``flowers102``: ``102flowers.tgz`` (``jpg/image_NNNNN.jpg``), ``imagelabels.mat``
  (``labels``: 1 x N, 1-based classes) and ``setid.mat`` (``trnid``, ``valid``,
  ``tstid``: 1 x n, 1-based image ids); all 102 classes, 1 train + 1 val + 2 test each.
* ``food101``: ``food-101.tar.gz`` with ``food-101/images/<class>/<id>.jpg`` and
  ``food-101/meta/{classes,labels,train,test}.txt``, ``{train,test}.json``; all 101
  classes (:data:`FOOD101_CLASSES`), 3 train + 2 test each.
* ``uc_merced``: ``UCMerced_LandUse.zip`` with ``UCMerced_LandUse/Images/<class>/
  <class>NN.tif`` (256 x 256 RGB TIFF); all 21 classes, 4 images each (one 256 x 247).
* ``brazilian_coffee``: ``brazilian_coffee_dataset.zip`` with ``brazilian_coffee_scenes/
  fold<k>.txt`` (lines ``coffee.<name>`` / ``noncoffee.<name>``) and ``fold<k>/<name>.jpg``
  (64 x 64); 5 folds x 2 classes x 2 images. The layout follows TensorFlow Datasets'
  and torchrs' readers of the real zip; the image names (five dot-separated fields, as
  TFDS's reader expects) are invented.

Image content is a smooth random field around a per-class colour (so a network can
learn something); sizes are small, not the real ones, except where the code or format
fixes them (Fashion-MNIST 28 x 28, UC Merced 256 x 256, Brazilian Coffee 64 x 64).
"""

from __future__ import annotations

import gzip
import io
import json

import numpy as np

from cnnpractice.rehearsal.formats import (
    class_colour,
    jpeg_bytes,
    mat_bytes,
    smooth_image,
    tar_gz_bytes,
    tiff_bytes,
    zip_bytes,
)
from cnnpractice.rehearsal.layout import Writer

FASHION_PER_CLASS = {"train": 6, "t10k": 3}
FLOWERS_PER_CLASS = {"trnid": 1, "valid": 1, "tstid": 2}
FOOD_PER_CLASS = {"train": 3, "test": 2}
UC_MERCED_PER_CLASS = 4
COFFEE_PER_FOLD_CLASS = 2

#: The 101 Food-101 classes (``meta/classes.txt``; Bossard et al. 2014).
FOOD101_CLASSES = (
    "apple_pie baby_back_ribs baklava beef_carpaccio beef_tartare beet_salad beignets bibimbap "
    "bread_pudding breakfast_burrito bruschetta caesar_salad cannoli caprese_salad carrot_cake ceviche "
    "cheese_plate cheesecake chicken_curry chicken_quesadilla chicken_wings chocolate_cake "
    "chocolate_mousse churros clam_chowder club_sandwich crab_cakes creme_brulee croque_madame "
    "cup_cakes deviled_eggs donuts dumplings edamame eggs_benedict escargots falafel filet_mignon "
    "fish_and_chips foie_gras french_fries french_onion_soup french_toast fried_calamari fried_rice "
    "frozen_yogurt garlic_bread gnocchi greek_salad grilled_cheese_sandwich grilled_salmon guacamole "
    "gyoza hamburger hot_and_sour_soup hot_dog huevos_rancheros hummus ice_cream lasagna lobster_bisque "
    "lobster_roll_sandwich macaroni_and_cheese macarons miso_soup mussels nachos omelette onion_rings "
    "oysters pad_thai paella pancakes panna_cotta peking_duck pho pizza pork_chop poutine prime_rib "
    "pulled_pork_sandwich ramen ravioli red_velvet_cake risotto samosa sashimi scallops seaweed_salad "
    "shrimp_and_grits spaghetti_bolognese spaghetti_carbonara spring_rolls steak strawberry_shortcake "
    "sushi tacos takoyaki tiramisu tuna_tartare waffles"
).split()

#: The 21 UC Merced Land Use classes (folder names of ``UCMerced_LandUse/Images``).
UC_MERCED_CLASSES = (
    "agricultural airplane baseballdiamond beach buildings chaparral denseresidential forest freeway "
    "golfcourse harbor intersection mediumresidential mobilehomepark overpass parkinglot river runway "
    "sparseresidential storagetanks tenniscourt"
).split()

_NOTE = "A miniature made by cnnpractice.rehearsal for offline rehearsals; not the original file.\n"


def _spec(name: str) -> dict:
    from cnnpractice.smalldata.registry import DATASETS

    return DATASETS[name]


def _download(name: str, index: int = 0) -> tuple[str, str | None]:
    """(first URL, published md5) of download ``index`` of dataset ``name``."""
    item = _spec(name)["downloads"][index]
    return item["urls"][0], item["md5"]


def _replaces(md5: str | None) -> dict:
    return {"md5": md5} if md5 else {}


def _image(w: Writer, key, cls: int, n_classes: int, size=None, spread: float = 60.0) -> np.ndarray:
    rng = w.rng(*key)
    h, wd = size if size is not None else (int(rng.integers(48, 97)), int(rng.integers(48, 97)))
    return smooth_image(rng, h, wd, class_colour(cls, n_classes), spread)


# --------------------------------------------------------------------------- Fashion-MNIST


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file (the MNIST format) of a uint8 array: magic ``00 00 08 ndim``, big-endian dims."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.tobytes()


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def build_fashion_mnist(w: Writer) -> None:
    classes = _spec("fashion_mnist")["classes"]
    files = {}
    for prefix, k in FASHION_PER_CLASS.items():
        labels = np.repeat(np.arange(len(classes), dtype=np.uint8), k)
        labels = labels[w.rng("fashion_mnist", prefix, "order").permutation(len(labels))]
        images = np.stack(
            [
                _image(w, ("fashion_mnist", prefix, i), int(c), len(classes), (28, 28), 40.0).mean(axis=2)
                for i, c in enumerate(labels)
            ]
        ).astype(np.uint8)
        files[f"{prefix}-images-idx3-ubyte.gz"] = _gzip(idx_bytes(images))
        files[f"{prefix}-labels-idx1-ubyte.gz"] = _gzip(idx_bytes(labels))
    for index in range(len(_spec("fashion_mnist")["downloads"])):
        url, md5 = _download("fashion_mnist", index)
        w.serve("fashion_mnist", url, files[url.rsplit("/", 1)[-1]], _replaces(md5))
    w.note("fashion_mnist", classes=len(classes), per_class=FASHION_PER_CLASS)


# --------------------------------------------------------------------------- Flowers102


def build_flowers102(w: Writer) -> None:
    n_classes = 102
    per_image = [(c, split) for c in range(n_classes) for split, k in FLOWERS_PER_CLASS.items() for _ in range(k)]
    order = w.rng("flowers102", "order").permutation(len(per_image))
    labels = np.zeros(len(per_image), np.uint8)
    ids: dict[str, list[int]] = {split: [] for split in FLOWERS_PER_CLASS}
    members = [("jpg/", b"")]
    for image_id, item in enumerate(order, start=1):
        cls, split = per_image[item]
        labels[image_id - 1] = cls + 1
        ids[split].append(image_id)
        members.append((f"jpg/image_{image_id:05d}.jpg", jpeg_bytes(_image(w, ("flowers102", image_id), cls, 102))))
    urls = {url.rsplit("/", 1)[-1]: (url, md5) for url, md5 in (_download("flowers102", i) for i in range(3))}
    content = {
        "102flowers.tgz": tar_gz_bytes(members),
        "imagelabels.mat": mat_bytes({"labels": labels.reshape(1, -1)}),
        "setid.mat": mat_bytes({k: np.asarray(v, np.uint16).reshape(1, -1) for k, v in ids.items()}),
    }
    for fname, (url, md5) in urls.items():
        w.serve("flowers102", url, content[fname], _replaces(md5))
    w.note("flowers102", classes=n_classes, per_class=FLOWERS_PER_CLASS, images=len(per_image))


# --------------------------------------------------------------------------- Food-101


def build_food101(w: Writer) -> None:
    rng = w.rng("food101", "ids")
    meta: dict[str, dict[str, list[str]]] = {split: {} for split in FOOD_PER_CLASS}
    images = []
    for c, cls in enumerate(FOOD101_CLASSES):
        n = sum(FOOD_PER_CLASS.values())
        ids = sorted(str(i) for i in rng.choice(np.arange(1000, 4_000_000), size=n, replace=False))
        start = 0
        for split, k in FOOD_PER_CLASS.items():
            meta[split][cls] = [f"{cls}/{i}" for i in ids[start : start + k]]
            start += k
        images += [(f"{cls}/{i}", c) for i in ids]
    members = [("food-101/", b""), ("food-101/images/", b"")]
    for cls in FOOD101_CLASSES:
        members.append((f"food-101/images/{cls}/", b""))
    members += [
        (f"food-101/images/{rel}.jpg", jpeg_bytes(_image(w, ("food101", rel), c, len(FOOD101_CLASSES))))
        for rel, c in images
    ]
    labels = [cls.replace("_", " ").capitalize() for cls in FOOD101_CLASSES]
    members += [
        ("food-101/meta/", b""),
        ("food-101/meta/classes.txt", "".join(f"{c}\n" for c in FOOD101_CLASSES).encode()),
        ("food-101/meta/labels.txt", "".join(f"{n}\n" for n in labels).encode()),
    ]
    for split, lists in meta.items():
        members.append((f"food-101/meta/{split}.json", json.dumps(lists).encode()))
        members.append((f"food-101/meta/{split}.txt", "".join(f"{r}\n" for v in lists.values() for r in v).encode()))
    members += [("food-101/README.txt", _NOTE.encode()), ("food-101/license_agreement.txt", _NOTE.encode())]
    url, md5 = _download("food101")
    w.serve("food101", url, tar_gz_bytes(members), _replaces(md5))
    w.note("food101", classes=len(FOOD101_CLASSES), per_class=FOOD_PER_CLASS)


# --------------------------------------------------------------------------- UC Merced


def build_uc_merced(w: Writer) -> None:
    members = [("UCMerced_LandUse/", b""), ("UCMerced_LandUse/Images/", b"")]
    for c, cls in enumerate(UC_MERCED_CLASSES):
        members.append((f"UCMerced_LandUse/Images/{cls}/", b""))
        for k in range(UC_MERCED_PER_CLASS):
            size = (247, 256) if (c, k) == (4, 0) else (256, 256)  # a non-square one, for the resize path
            pixels = _image(w, ("uc_merced", cls, k), c, len(UC_MERCED_CLASSES), size)
            members.append((f"UCMerced_LandUse/Images/{cls}/{cls}{k:02d}.tif", tiff_bytes(pixels)))
    url, md5 = _download("uc_merced")
    w.serve("uc_merced", url, zip_bytes(members), _replaces(md5))
    w.note("uc_merced", classes=len(UC_MERCED_CLASSES), per_class=UC_MERCED_PER_CLASS)


# --------------------------------------------------------------------------- Brazilian Coffee


def build_brazilian_coffee(w: Writer) -> None:
    counties = ("arceburgo", "guaranesia", "guaxupe", "montesanto")
    members = [("brazilian_coffee_scenes/", b"")]
    for fold in range(1, 6):
        lines, images = [], []
        rng = w.rng("brazilian_coffee", fold, "names")
        for c, cls in enumerate(("coffee", "noncoffee")):
            for k in range(COFFEE_PER_FOLD_CLASS):
                a, b, x, y = (int(v) for v in rng.integers(0, 100, size=4))
                name = f"{counties[(fold + k) % 4]}.{a}.{b}.{x}.{y}"
                lines.append(f"{cls}.{name}")
                pixels = _image(w, ("brazilian_coffee", fold, name), c, 2, (64, 64))
                images.append((f"brazilian_coffee_scenes/fold{fold}/{name}.jpg", jpeg_bytes(pixels)))
        members.append((f"brazilian_coffee_scenes/fold{fold}.txt", "".join(f"{ln}\n" for ln in lines).encode()))
        members.append((f"brazilian_coffee_scenes/fold{fold}/", b""))
        members += images
    url, md5 = _download("brazilian_coffee")
    w.serve("brazilian_coffee", url, zip_bytes(members), _replaces(md5))
    w.note(
        "brazilian_coffee",
        classes=2,
        folds=5,
        per_fold_and_class=COFFEE_PER_FOLD_CLASS,
        unverified="image names invented (five dot-separated fields as TFDS's reader expects)",
    )


BUILDERS = {
    "fashion_mnist": build_fashion_mnist,
    "flowers102": build_flowers102,
    "food101": build_food101,
    "uc_merced": build_uc_merced,
    "brazilian_coffee": build_brazilian_coffee,
}

__all__ = ["BUILDERS", "FOOD101_CLASSES", "UC_MERCED_CLASSES", "idx_bytes"]
