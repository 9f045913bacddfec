"""ImageNet prepared once from the user's copy (cnnpractice.data.imagenet): archives checked
against their published md5s (or a manifest entry replacing them), validation images sorted
by the devkit's ground truth into resources/, completeness checked, the copy never written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from cnnpractice.data.downloads import Downloads
from cnnpractice.data.imagenet import DEVKIT, MD5, VAL_TAR, ImageNetIncomplete, load_classes, prepare_imagenet
from cnnpractice.rehearsal.formats import jpeg_bytes, mat_bytes, tar_bytes, tar_gz_bytes

WNIDS = ["n01440764", "n01443537", "n01484850"]
TRUTH = [2, 1, 3, 3, 1, 2]  # ILSVRC2012_ID of validation image k (1-based IDs)


def devkit(truth=TRUTH) -> bytes:
    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children", "wordnet_height"]
    rows = [(float(i + 1), w, f"fish {i}, a fish", "gloss", 0.0, np.zeros((1, 0)), 0.0) for i, w in enumerate(WNIDS)]
    rows.append((4.0, "n00000001", "fishes", "internal", 3.0, np.array([[1.0, 2.0, 3.0]]), 1.0))
    synsets = np.empty((len(rows), 1), dtype=[(f, object) for f in fields])
    for r, row in enumerate(rows):
        synsets[r, 0] = row
    return tar_gz_bytes(
        [
            ("ILSVRC2012_devkit_t12/", b""),
            ("ILSVRC2012_devkit_t12/data/", b""),
            ("ILSVRC2012_devkit_t12/data/meta.mat", mat_bytes({"synsets": synsets})),
            (
                "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt",
                "".join(f"{i}\n" for i in truth).encode(),
            ),
        ]
    )


def val_tar(skip=()) -> bytes:
    pixels = np.full((8, 8, 3), 100, np.uint8)
    return tar_bytes(
        [(f"ILSVRC2012_val_{k:08d}.JPEG", jpeg_bytes(pixels)) for k in range(1, len(TRUTH) + 1) if k not in skip]
    )


def copy(tmp_path: Path, val: bytes, dev: bytes | None = None) -> tuple[Path, Downloads]:
    """A user's copy and the manifest entries replacing torchvision's md5s (as the rehearsal's)."""
    root = tmp_path / "imagenet"
    root.mkdir()
    entries = {}
    for name, data in ((DEVKIT, dev or devkit()), (VAL_TAR, val)):
        (root / name).write_bytes(data)
        entries[f"local:{name}"] = {
            "md5": hashlib.md5(data).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "replaces": {"md5": MD5[name]},
            "manifest": "test",
        }
    return root, Downloads(checksums=entries)


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_validation_images_sorted_by_the_ground_truth(tmp_path):
    root, downloads = copy(tmp_path, val_tar())
    before = listing(root)
    out = tmp_path / "resources" / "semantic" / "imagenet"
    info = prepare_imagenet(root, out, expected_classes=3, expected_images=6, downloads=downloads)
    assert info["images"] == 6 and [c["images"] for c in info["classes"]] == [2, 2, 2]
    assert (out / "val" / WNIDS[1] / "ILSVRC2012_val_00000001.JPEG").is_file()  # TRUTH[0] = 2
    assert [c["name"] for c in load_classes(out)] == ["fish 0", "fish 1", "fish 2"]
    assert {c["verified"][0] for c in info["checked"]} == {"md5"}
    assert listing(root) == before  # nothing written into the user's copy
    assert sorted(p.name for p in out.iterdir()) == ["classes.json", "val"]


def test_missing_image_names_it(tmp_path):
    root, downloads = copy(tmp_path, val_tar(skip={4}))
    out = tmp_path / "out"
    with pytest.raises(ImageNetIncomplete, match=r"1 of the 6 images .*missing \(ILSVRC2012_val_00000004.JPEG"):
        prepare_imagenet(root, out, expected_classes=3, expected_images=6, downloads=downloads)
    assert not out.exists()


@pytest.mark.parametrize(
    "expected, message",
    [
        ({"expected_classes": 1000, "expected_images": 6}, "3 classes, expected 1000"),
        ({"expected_classes": 3, "expected_images": 50000}, "6 images, expected 50000"),
    ],
)
def test_counts_short_of_the_expected_are_an_error(tmp_path, expected, message):
    root, downloads = copy(tmp_path, val_tar())
    with pytest.raises(ImageNetIncomplete, match=f"{message}.*semantic.datasets.imagenet.expected"):
        prepare_imagenet(root, tmp_path / "out", downloads=downloads, **expected)


def test_class_without_images_is_named(tmp_path):
    root, downloads = copy(tmp_path, val_tar(), devkit(truth=[1, 1, 2, 2, 1, 2]))
    with pytest.raises(ImageNetIncomplete, match=f"1 classes without images \\({WNIDS[2]}"):
        prepare_imagenet(root, tmp_path / "out", expected_classes=None, expected_images=None, downloads=downloads)


def test_archives_are_checked_against_torchvisions_md5(tmp_path):
    root, _ = copy(tmp_path, val_tar())
    with pytest.raises(ValueError, match=f"{DEVKIT}: md5 .*expected {MD5[DEVKIT]}"):
        prepare_imagenet(root, tmp_path / "out")


def test_unpacked_folder_is_linked_not_copied(tmp_path):
    root = tmp_path / "imagenet"
    for w in WNIDS:
        (root / "train" / w).mkdir(parents=True)
        (root / "train" / w / f"{w}_1.JPEG").write_bytes(b"jpeg")
    out = tmp_path / "out"
    info = prepare_imagenet(root, out, split="train", expected_classes=3, expected_images=3)
    assert (out / "train").is_symlink() and [c["name"] for c in info["classes"]] == WNIDS
    assert json.loads((out / "classes.json").read_text())["images"] == 3


def test_no_copy_names_the_config_key(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="semantic.datasets.imagenet.root: .*cannot be downloaded"):
        prepare_imagenet(tmp_path / "empty", tmp_path / "out")
