"""Miniatures of the semantic study's inputs: CIFAR-100, ImageNet, torchvision weights, WordNet.

* ``cifar100``: ``cifar-100-python.tar.gz`` (URL and md5 from
  :mod:`cnnpractice.semantic.cifar100`) holding ``cifar-100-python/{train,test,meta}``:
  pickles as Python 2 wrote them (:func:`~cnnpractice.rehearsal.formats.py2_pickle`):
  ``data`` uint8 (N, 3072) (R, G, B planes of 32 x 32), ``fine_labels``,
  ``coarse_labels``, ``filenames``, ``batch_label``; ``meta``: ``fine_label_names`` (the
  100 real names, alphabetical) and ``coarse_label_names`` (the 20 superclasses).
  :data:`CIFAR_PER_CLASS` images per class and split.
* ``imagenet`` (a local copy, never downloaded): ``ILSVRC2012_devkit_t12.tar.gz``
  (``ILSVRC2012_devkit_t12/data/meta.mat``: struct array ``synsets`` with fields
  ``ILSVRC2012_ID, WNID, words, gloss, num_children, children, wordnet_height,
  num_train_images``, and ``data/ILSVRC2012_validation_ground_truth.txt``) and
  ``ILSVRC2012_img_val.tar`` (flat ``ILSVRC2012_val_NNNNNNNN.JPEG``), under
  ``local/imagenet/``. 1000 leaf classes, as the real one, but NOT the real 1000: their
  list is not available offline, so they are 1000 leaf noun synsets of the local WordNet
  3.0 (animals, artefacts, food, objects, plants), spread evenly by offset; ``WNID`` is
  ``n`` + the 8-digit offset, as ImageNet's, so the study's WordNet mapping works; a few
  internal synsets (``num_children`` > 0) are listed too, as in the real file. IDs are
  assigned in a seeded order (the real IDs are not in wnid order either).
  :data:`IMAGENET_PER_CLASS` tiny validation images per class.
* ``torchvision_weights``: for every (architecture, weights) of :data:`WEIGHTS`, the file
  torchvision's ``weights.url`` names, with the architecture's randomly initialised
  (seeded) ``state_dict``: served at its download.pytorch.org path and hard-linked to
  ``local/torch/hub/checkpoints/<file>`` (torch.hub's cache: ``$TORCH_HOME`` =
  ``<out>/local/torch``). ``replaces`` records the sha256 prefix torch.hub checks on
  download (the part of the file name after the last ``-``).
* ``wordnet``: what ``nltk.download("wordnet")`` fetches (``semantic.wordnet: download``,
  or ``auto`` without the Debian packages): nltk's data index and ``wordnet.zip``, see
  :func:`build_wordnet`. nltk's downloader refuses loopback and private addresses (an
  SSRF guard in ``nltk.pathsec``, nltk 3.10), so it cannot fetch from the rehearsal
  server; a ``file://`` index works (the tests use one).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from cnnpractice.rehearsal.formats import (
    class_colour,
    jpeg_bytes,
    mat_bytes,
    py2_pickle,
    smooth_image,
    tar_bytes,
    tar_gz_bytes,
    zip_bytes,
)
from cnnpractice.rehearsal.layout import LOCAL_DIR, MIRROR_DIR, Writer, mirror_relpath

CIFAR_PER_CLASS = {"train": 5, "test": 2}
IMAGENET_PER_CLASS = 1
IMAGENET_CLASSES = 1000
#: torchvision (architecture, weights) pairs config/paper.yaml uses (tests/test_rehearsal_miniatures.py
#: checks the list against the config).
WEIGHTS = (
    ("alexnet", "IMAGENET1K_V1"),
    ("googlenet", "IMAGENET1K_V1"),
    ("resnet18", "IMAGENET1K_V1"),
    ("vgg16", "IMAGENET1K_V1"),
)

#: CIFAR-100's 20 superclasses and their 5 classes each (Krizhevsky 2009, the dataset page).
CIFAR_SUPERCLASSES = {
    "aquatic_mammals": "beaver dolphin otter seal whale",
    "fish": "aquarium_fish flatfish ray shark trout",
    "flowers": "orchid poppy rose sunflower tulip",
    "food_containers": "bottle bowl can cup plate",
    "fruit_and_vegetables": "apple mushroom orange pear sweet_pepper",
    "household_electrical_devices": "clock keyboard lamp telephone television",
    "household_furniture": "bed chair couch table wardrobe",
    "insects": "bee beetle butterfly caterpillar cockroach",
    "large_carnivores": "bear leopard lion tiger wolf",
    "large_man-made_outdoor_things": "bridge castle house road skyscraper",
    "large_natural_outdoor_scenes": "cloud forest mountain plain sea",
    "large_omnivores_and_herbivores": "camel cattle chimpanzee elephant kangaroo",
    "medium_mammals": "fox porcupine possum raccoon skunk",
    "non-insect_invertebrates": "crab lobster snail spider worm",
    "people": "baby boy girl man woman",
    "reptiles": "crocodile dinosaur lizard snake turtle",
    "small_mammals": "hamster mouse rabbit shrew squirrel",
    "trees": "maple_tree oak_tree palm_tree pine_tree willow_tree",
    "vehicles_1": "bicycle bus motorcycle pickup_truck train",
    "vehicles_2": "lawn_mower rocket streetcar tank tractor",
}


# --------------------------------------------------------------------------- CIFAR-100


def build_cifar100(w: Writer) -> None:
    from cnnpractice.semantic import cifar100

    coarse_names = list(CIFAR_SUPERCLASSES)
    fine_to_coarse = {f: c for c, (_, fines) in enumerate(CIFAR_SUPERCLASSES.items()) for f in fines.split()}
    fine_names = sorted(fine_to_coarse)
    members = [(f"{cifar100.FOLDER}/", b"")]
    for split, k in CIFAR_PER_CLASS.items():
        labels = np.repeat(np.arange(len(fine_names)), k)
        labels = labels[w.rng("cifar100", split, "order").permutation(len(labels))]
        pixels = np.stack(
            [smooth_image(w.rng("cifar100", split, i), 32, 32, class_colour(int(c), 100)) for i, c in enumerate(labels)]
        )
        batch = {
            "filenames": [f"{fine_names[c]}_s_{i:06d}.png" for i, c in enumerate(labels)],
            "batch_label": f"{'training' if split == 'train' else 'testing'} batch 1 of 1",
            "fine_labels": [int(c) for c in labels],
            "coarse_labels": [fine_to_coarse[fine_names[c]] for c in labels],
            "data": np.ascontiguousarray(pixels.transpose(0, 3, 1, 2).reshape(len(labels), 3072)),
        }
        members.append((f"{cifar100.FOLDER}/{split}", py2_pickle(batch)))
    meta = {"fine_label_names": fine_names, "coarse_label_names": coarse_names}
    members.append((f"{cifar100.FOLDER}/meta", py2_pickle(meta)))
    w.serve("cifar100", cifar100.URL, tar_gz_bytes(members), {"md5": cifar100.MD5})
    w.note("cifar100", classes=100, per_class=CIFAR_PER_CLASS)


# --------------------------------------------------------------------------- ImageNet


def wordnet_leaves(data_noun: str | os.PathLike, n: int) -> list[dict]:
    """``n`` leaf noun synsets of a WordNet 3.0 ``data.noun`` (see the module docstring).

    Each: ``offset`` (int), ``wnid``, ``words`` (lemmas joined by ``", "``), ``gloss``,
    ``hypernym`` (offset of its first ``@`` hypernym).
    """
    leaves = []
    with open(data_noun, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(" "):
                continue  # licence header
            body, _, gloss = line.partition(" | ")
            f = body.split()
            if f[1] not in ("05", "06", "13", "17", "20"):  # animal, artifact, food, object, plant
                continue
            n_words = int(f[3], 16)
            words = [f[4 + 2 * i].replace("_", " ") for i in range(n_words)]
            p = 4 + 2 * n_words
            pointers = [f[p + 1 + 4 * i : p + 5 + 4 * i] for i in range(int(f[p]))]
            if any(ptr[0] in ("~", "~i") for ptr in pointers):
                continue
            hypernyms = [int(ptr[1]) for ptr in pointers if ptr[0] == "@" and ptr[2] == "n"]
            if hypernyms:
                leaves.append(
                    {
                        "offset": int(f[0]),
                        "wnid": f"n{int(f[0]):08d}",
                        "words": ", ".join(words),
                        "gloss": gloss.strip(),
                        "hypernym": hypernyms[0],
                    }
                )
    if len(leaves) < n:
        raise ValueError(f"{data_noun}: only {len(leaves)} suitable leaf synsets, need {n}")
    pick = np.unique(np.linspace(0, len(leaves) - 1, n).round().astype(int))
    return [leaves[i] for i in pick]


def _default_wordnet_dir() -> Path:
    from cnnpractice.semantic.wordnet import DEBIAN_DIR

    return Path(DEBIAN_DIR)


def build_imagenet(w: Writer, wordnet_dir: str | os.PathLike | None = None) -> None:
    from torchvision.datasets.imagenet import ARCHIVE_META

    data_noun = Path(wordnet_dir or _default_wordnet_dir()) / "data.noun"
    if not data_noun.is_file():
        raise FileNotFoundError(
            f"the ImageNet miniature takes its 1000 classes from WordNet 3.0, but {data_noun} is missing; "
            "install the Debian package wordnet-base or pass wordnet_dir (--wordnet-dir) pointing at a "
            "folder with data.noun"
        )
    leaves = wordnet_leaves(data_noun, IMAGENET_CLASSES)
    ids = w.rng("imagenet", "ids").permutation(len(leaves)) + 1  # ILSVRC2012_ID of leaf i
    parents: dict[int, list[int]] = {}
    for leaf, ident in zip(leaves, ids):
        parents.setdefault(leaf["hypernym"], []).append(int(ident))
    internal = sorted(parents.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:10]
    fields = [
        "ILSVRC2012_ID",
        "WNID",
        "words",
        "gloss",
        "num_children",
        "children",
        "wordnet_height",
        "num_train_images",
    ]
    rows = [
        (float(i), lf["wnid"], lf["words"], lf["gloss"], 0.0, np.zeros((1, 0)), 0.0, 1300.0)
        for lf, i in zip(leaves, ids)
    ]
    rows.sort(key=lambda r: r[0])
    for k, (offset, children) in enumerate(internal):
        rows.append(
            (
                float(len(leaves) + 1 + k),
                f"n{offset:08d}",
                f"synset {offset}",
                "an internal node of the hierarchy",
                float(len(children)),
                np.asarray([sorted(children)], float),
                1.0,
                0.0,
            )
        )
    synsets = np.empty((len(rows), 1), dtype=[(f, object) for f in fields])
    for r, row in enumerate(rows):
        synsets[r, 0] = row
    labels = np.repeat(ids, IMAGENET_PER_CLASS)
    labels = labels[w.rng("imagenet", "val-order").permutation(len(labels))]
    images = []
    for k, ident in enumerate(labels, start=1):
        rng = w.rng("imagenet", "val", k)
        h, wd = int(rng.integers(16, 33)), int(rng.integers(16, 33))
        pixels = smooth_image(rng, h, wd, class_colour(int(ident), len(leaves)))
        images.append((f"ILSVRC2012_val_{k:08d}.JPEG", jpeg_bytes(pixels)))
    devkit = [
        ("ILSVRC2012_devkit_t12/", b""),
        ("ILSVRC2012_devkit_t12/data/", b""),
        ("ILSVRC2012_devkit_t12/data/meta.mat", mat_bytes({"synsets": synsets})),
        (
            "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt",
            "".join(f"{int(i)}\n" for i in labels).encode(),
        ),
    ]
    for key, content in (("devkit", tar_gz_bytes(devkit)), ("val", tar_bytes(images))):
        fname, md5 = ARCHIVE_META[key]
        w.local("imagenet", f"imagenet/{fname}", content, {"md5": md5})
    w.note(
        "imagenet",
        classes=len(leaves),
        internal_synsets=len(internal),
        val_per_class=IMAGENET_PER_CLASS,
        val_images=len(labels),
        unverified="classes are WordNet 3.0 leaf nouns, not ImageNet's 1000; real val set: 50,000 images",
    )


# --------------------------------------------------------------------------- torchvision weights


def _weights_url(arch: str, weights: str) -> str:
    import torchvision

    return torchvision.models.get_model_weights(arch)[weights].url


def random_state_dict(arch: str, seed: int) -> dict:
    """The ``state_dict`` of ``arch`` as the weighted builder expects it, randomly initialised."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    # builders given weights switch these on before loading (GoogLeNet/Inception keep aux heads)
    extra = {"aux_logits": True, "init_weights": False} if arch in ("googlenet", "inception_v3") else {}
    return torchvision.models.get_model(arch, weights=None, **extra).state_dict()


def build_torchvision_weights(w: Writer) -> None:
    import torch

    for arch, weights in WEIGHTS:
        url = _weights_url(arch, weights)
        fname = url.rsplit("/", 1)[-1]
        target = w.root / MIRROR_DIR / mirror_relpath(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        seed = int(w.rng("weights", arch, weights).integers(2**31))
        stage = Path(tempfile.mkdtemp(prefix=f".{fname}.", dir=target.parent))
        try:  # torch.save names its inner folder after the file: save under the final name
            torch.save(random_state_dict(arch, seed), stage / fname)
            os.replace(stage / fname, target)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        prefix = fname.rsplit(".", 1)[0].rsplit("-", 1)[-1]
        w.register("torchvision_weights", target, url, {"sha256_prefix": prefix})
        w.link("torchvision_weights", target, f"{LOCAL_DIR}/torch/hub/checkpoints/{fname}")
    w.note("torchvision_weights", models=[f"{a}/{k}" for a, k in WEIGHTS], content="random init, seeded")


# --------------------------------------------------------------------------- WordNet (nltk)

NLTK_INDEX_URL = "https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/index.xml"
NLTK_WORDNET_URL = "https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/wordnet.zip"


def build_wordnet(w: Writer, wordnet_dir: str | os.PathLike | None = None) -> None:
    """nltk's ``index.xml`` (one package, ``wordnet``) and ``packages/corpora/wordnet.zip``
    (``wordnet/<database files>``): a repack of the local WordNet 3.0 (Debian), the same
    database nltk's data server hands out, not a miniature (the study needs real synsets)."""
    from cnnpractice.semantic.wordnet import DATABASE_FILES, LEXNAMES_MAN, lexnames_from_man

    folder = Path(wordnet_dir or _default_wordnet_dir())
    missing = [f for f in DATABASE_FILES if not (folder / f).is_file()]
    if missing or not Path(LEXNAMES_MAN).is_file():
        raise FileNotFoundError(
            f"the WordNet repack needs {folder}/{{{','.join(missing[:3])}}} and {LEXNAMES_MAN} "
            "(Debian packages wordnet-base, wordnet-sense-index)"
        )
    members = [("wordnet/", b"")] + [(f"wordnet/{f}", (folder / f).read_bytes()) for f in sorted(DATABASE_FILES)]
    members.append(("wordnet/lexnames", lexnames_from_man(LEXNAMES_MAN).encode()))
    archive = zip_bytes(members)
    w.serve("wordnet", NLTK_WORDNET_URL, archive)
    unzipped = sum(len(data) for _, data in members)
    index = (
        '<?xml version="1.0"?>\n<?xml-stylesheet href="index.xsl" type="text/xsl"?>\n<nltk_data>\n<packages>\n'
        f'<package id="wordnet" name="WordNet" author="Christiane Fellbaum, George Miller" languages="en" '
        f'license="https://wordnet.princeton.edu/license-and-commercial-use" subdir="corpora" unzip="1" '
        f'size="{len(archive)}" unzipped_size="{unzipped}" checksum="{hashlib.md5(archive).hexdigest()}" '
        f'sha256_checksum="{hashlib.sha256(archive).hexdigest()}" '
        f'url="{NLTK_WORDNET_URL}" />\n</packages>\n<collections>\n</collections>\n</nltk_data>\n'
    )
    w.serve("wordnet", NLTK_INDEX_URL, index.encode())
    w.note("wordnet", files=len(members) - 1, content="WordNet 3.0 from the Debian packages (a copy, not a miniature)")


BUILDERS = {
    "cifar100": build_cifar100,
    "imagenet": build_imagenet,
    "torchvision_weights": build_torchvision_weights,
    "wordnet": build_wordnet,
}

__all__ = ["BUILDERS", "CIFAR_SUPERCLASSES", "WEIGHTS", "random_state_dict", "wordnet_leaves"]
