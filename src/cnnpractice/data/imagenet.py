"""ImageNet (ILSVRC 2012), prepared once from the user's copy, checked complete.

ImageNet cannot be downloaded automatically: the user keeps a copy (``semantic.datasets.
imagenet.root``). :func:`prepare_imagenet` reads it once, in its own rule, and writes
``<out>/<split>/<wnid>/*.JPEG`` and ``<out>/classes.json`` under ``resources/``; nothing is
ever written into the user's copy (torchvision's ``ImageNet`` class unpacks its archives
beside them).

The copy is either

* the archives as image-net.org distributes them: ``ILSVRC2012_devkit_t12.tar.gz`` and
  ``ILSVRC2012_img_val.tar`` (checked against the md5s torchvision publishes, or a
  ``downloads.checksums`` manifest entry replacing them: the rehearsal's miniatures);
  the validation images are sorted into class folders by the devkit's ground truth; or
* an unpacked ``<root>/<split>/<wnid>/`` folder (e.g. the training images): linked, not
  copied; class names from the devkit when it is there, else the wnids.

Completeness is checked before anything downstream runs: with the devkit, every
ground-truth line has its image, no image is left over, and every leaf class has at least
one; and, as configured (``semantic.datasets.imagenet.expected``), the number of classes
(1000) and of images (50,000 validation images). The error names what is missing.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from cnnpractice.io import write_json

log = logging.getLogger("cnnpractice.data")

DEVKIT = "ILSVRC2012_devkit_t12.tar.gz"
VAL_TAR = "ILSVRC2012_img_val.tar"
#: torchvision.datasets.imagenet.ARCHIVE_META's md5s
MD5 = {DEVKIT: "fa75699e90414af021442c21a62c3abf", VAL_TAR: "29b22e2961454d5413ddabcf34fc5622"}
_VAL_NAME = re.compile(r"^ILSVRC2012_val_(\d{8})\.JPEG$")
_WNID = re.compile(r"^n\d{8}$")


class ImageNetIncomplete(ValueError):
    """The ImageNet copy lacks classes or images; the message names them."""


def _check_archive(path: Path, downloads) -> dict:
    from cnnpractice.data.archives import hash_file

    expected = downloads.expected(f"local:{path.name}", md5=MD5[path.name])
    info = hash_file(path)
    for kind, want in expected.items():
        if info[kind] != want:
            raise ValueError(
                f"{path}: {kind} {info[kind]}, expected {want}: not the published {path.name} (damaged or another "
                "release); replace it"
            )
    log.info(f"{path}: {', '.join(sorted(expected))} ok")
    return {"path": str(path), **info, "verified": sorted(expected)}


def read_devkit(devkit_dir: Path) -> tuple[dict[int, dict], list[int]]:
    """(leaf classes by ILSVRC2012_ID: wnid, words; validation ground truth: one ID per
    image, in image order) from an unpacked devkit."""
    import scipy.io

    meta_file = devkit_dir / "data" / "meta.mat"
    truth_file = devkit_dir / "data" / "ILSVRC2012_validation_ground_truth.txt"
    try:
        synsets = scipy.io.loadmat(str(meta_file), squeeze_me=True)["synsets"]
        classes = {
            int(row["ILSVRC2012_ID"]): {"wnid": str(row["WNID"]), "words": str(row["words"])}
            for row in synsets
            if int(row["num_children"]) == 0
        }
        truth = [int(line) for line in truth_file.read_text().split()]
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"{devkit_dir}: not the ILSVRC2012 devkit ({type(exc).__name__}: {exc})") from exc
    unknown = sorted(set(truth) - set(classes))
    if unknown:
        raise ValueError(f"{truth_file}: class IDs {unknown[:5]} are not leaf classes of {meta_file}")
    return classes, truth


def _sort_val(flat: Path, out: Path, classes: dict[int, dict], truth: list[int]) -> dict[str, int]:
    """Move ``flat``'s validation images into ``out/<wnid>/``; ImageNetIncomplete when an
    image of the ground truth is missing or an image is not in it."""
    for c in classes.values():
        (out / c["wnid"]).mkdir(parents=True, exist_ok=True)
    missing, counts = [], dict.fromkeys((c["wnid"] for c in classes.values()), 0)
    for k, ident in enumerate(truth, start=1):
        name = f"ILSVRC2012_val_{k:08d}.JPEG"
        wnid = classes[ident]["wnid"]
        try:
            os.replace(flat / name, out / wnid / name)
        except FileNotFoundError:
            missing.append(name)
            continue
        counts[wnid] += 1
    extra = sorted(p.name for p in flat.rglob("*") if p.is_file())
    if missing or extra:
        raise ImageNetIncomplete(
            f"{VAL_TAR}: {len(missing)} of the {len(truth)} images of the devkit's ground truth are missing"
            f"{' (' + ', '.join(missing[:3]) + ' ...)' if missing else ''}"
            f"{f'; {len(extra)} files are not in it ({extra[:3]} ...)' if extra else ''}"
        )
    return counts


def _count_folder(folder: Path) -> dict[str, int]:
    classes = sorted(p for p in folder.iterdir() if p.is_dir())
    bad = [p.name for p in classes if not _WNID.match(p.name)]
    if bad:
        raise ValueError(f"{folder}: class folders must be wnids (n01440764), not {bad[:3]}")
    return {p.name: sum(1 for f in p.iterdir() if f.is_file()) for p in classes}


def _check_counts(counts: dict[str, int], where: str, expected_classes: int | None, expected_images: int | None):
    empty = sorted(w for w, n in counts.items() if n == 0)
    problems = []
    if expected_classes is not None and len(counts) != expected_classes:
        problems.append(f"{len(counts)} classes, expected {expected_classes}")
    if empty:
        problems.append(
            f"{len(empty)} classes without images ({', '.join(empty[:5])}{' ...' if len(empty) > 5 else ''})"
        )
    total = sum(counts.values())
    if expected_images is not None and total != expected_images:
        problems.append(f"{total} images, expected {expected_images}")
    if problems:
        raise ImageNetIncomplete(
            f"{where} is incomplete: {'; '.join(problems)} (config semantic.datasets.imagenet.expected)"
        )


def prepare_imagenet(
    root: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    split: str = "val",
    expected_classes: int | None = 1000,
    expected_images: int | None = 50_000,
    downloads=None,
    config_key: str = "semantic.datasets.imagenet.root",
) -> dict:
    """Prepare ImageNet's ``split`` from the copy at ``root`` into ``out_dir`` (see the module
    docstring); returns what ``out_dir/classes.json`` holds.

    Raises
    ------
    FileNotFoundError : ``root`` holds neither form (names ``config_key``).
    ValueError : an archive fails its checksum, or the devkit is unreadable.
    ImageNetIncomplete : classes or images are missing (the message says which).
    """
    from cnnpractice.data.archives import extract, staged_dir
    from cnnpractice.data.downloads import Downloads

    root, out_dir = Path(root), Path(out_dir)
    downloads = downloads or Downloads(dataset="imagenet")
    if split not in ("train", "val"):
        raise ValueError(f"ImageNet split must be 'train' or 'val', got {split!r}")
    has_devkit, unpacked = (root / DEVKIT).is_file(), (root / split).is_dir()
    if not unpacked and not (split == "val" and has_devkit and (root / VAL_TAR).is_file()):
        raise FileNotFoundError(
            f"{config_key}: {root} holds neither {DEVKIT} and {VAL_TAR} (validation split) nor an unpacked "
            f"{root / split}/<wnid>/ folder. ImageNet cannot be downloaded automatically: get it from "
            "image-net.org and point the key at it"
        )
    with staged_dir(out_dir, "imagenet", replace="classes.json") as stage:
        checked, classes = [], None
        if has_devkit:
            checked.append(_check_archive(root / DEVKIT, downloads))
            extract(root / DEVKIT, stage / ".devkit", max_members=100)
            classes, truth = read_devkit(stage / ".devkit" / "ILSVRC2012_devkit_t12")
        if unpacked:
            (stage / split).symlink_to((root / split).absolute(), target_is_directory=True)
            counts = _count_folder(root / split)
            where = str(root / split)
        else:
            checked.append(_check_archive(root / VAL_TAR, downloads))
            budget = len(truth) + 10
            extract(root / VAL_TAR, stage / ".flat", max_members=budget)
            counts = _sort_val(stage / ".flat", stage / split, classes, truth)
            where = f"{root / VAL_TAR} with {DEVKIT}"
        names = {c["wnid"]: c["words"] for c in (classes or {}).values()}
        if classes is not None:
            absent = sorted(set(names) - set(counts))
            if absent:
                raise ImageNetIncomplete(f"{where}: leaf classes {absent[:5]} of the devkit have no folder")
        _check_counts(counts, where, expected_classes, expected_images)
        import shutil

        for tmp in (".devkit", ".flat"):
            shutil.rmtree(stage / tmp, ignore_errors=True)
        info = {
            "split": split,
            "root": str(root),
            "classes": [
                {"wnid": w, "name": names.get(w, w).split(", ")[0], "words": names.get(w, w), "images": n}
                for w, n in sorted(counts.items())
            ],
            "images": sum(counts.values()),
            "checked": checked,
        }
        write_json(stage / "classes.json", info)
    log.info(f"ImageNet {split}: {len(counts)} classes, {info['images']:,} images -> {out_dir}")
    return info


def load_classes(prepared: str | os.PathLike) -> list[dict]:
    """The classes (wnid, name, words, images) of a folder :func:`prepare_imagenet` wrote, in
    wnid order (the order of ``torchvision.datasets.ImageFolder``'s labels)."""
    import json

    path = Path(prepared) / "classes.json"
    try:
        return json.loads(path.read_text())["classes"]
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: not written by prepare_imagenet ({exc}); run the prepare_imagenet rule") from exc


__all__ = ["DEVKIT", "MD5", "VAL_TAR", "ImageNetIncomplete", "load_classes", "prepare_imagenet", "read_devkit"]
