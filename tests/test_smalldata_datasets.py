"""Tests of cnnpractice.smalldata.datasets: fetching and preparing the small image datasets.

No test reaches the network: conftest's autouse ``no_network`` fixture refuses every socket
connection, and downloads are tested with ``file://`` URLs to archives made here
(``monkeypatch`` points the registry at them).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnpractice.data import archives
from cnnpractice.smalldata import datasets as ds
from cnnpractice.smalldata import registry

SHIPPED = Path(registry.DEFAULT_SHIPPED_DIR)
needs_shipped = pytest.mark.skipif(
    not all((SHIPPED / f).is_file() for f in registry.FMNIST_FILES),
    reason="Debian package dataset-fashion-mnist not installed",
)


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


# ---------------------------------------------------------------------------
# Fashion-MNIST from the Debian package
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fmnist_raw(tmp_path_factory):
    if not all((SHIPPED / f).is_file() for f in registry.FMNIST_FILES):
        pytest.skip("Debian package dataset-fashion-mnist not installed")
    raw = tmp_path_factory.mktemp("fmnist") / "raw"
    info = ds.fetch("fashion_mnist", raw)  # "auto" picks the shipped copy
    assert info["source"] == "shipped"
    return raw


@needs_shipped
def test_fetch_shipped_record(fmnist_raw):
    info = json.loads((fmnist_raw / "fetch.json").read_text())
    assert sorted(f["path"] for f in info["files"]) == sorted(registry.FMNIST_FILES)
    for f in info["files"]:
        assert f["size"] == (fmnist_raw / f["path"]).stat().st_size
        assert f["content_md5"] == ds.DATASETS["fashion_mnist"]["content_md5"][f["path"]]
        assert len(f["sha256"]) == 64
    assert sorted(p.name for p in fmnist_raw.iterdir()) == sorted([*registry.FMNIST_FILES, "fetch.json"])
    # a second fetch finds the record and does nothing
    assert ds.fetch("fashion_mnist", fmnist_raw, source="download") == info


@needs_shipped
def test_prepare_fashion_mnist_subset(fmnist_raw, tmp_path):
    kw = dict(image_size=28, channels=1, train_per_class=5, test_per_class=3, seed=1)
    info = ds.prepare("fashion_mnist", fmnist_raw, tmp_path / "a", **kw)
    x = np.load(tmp_path / "a" / "train_x.npy", mmap_mode="r")
    y = np.load(tmp_path / "a" / "train_y.npy")
    assert x.shape == (50, 1, 28, 28) and x.dtype == np.uint8
    assert y.dtype == np.int64 and np.array_equal(np.bincount(y), [5] * 10)
    assert np.load(tmp_path / "a" / "test_x.npy").shape == (30, 1, 28, 28)
    assert info == json.loads((tmp_path / "a" / "classes.json").read_text())
    assert info["classes"][0] == "T-shirt/top" and info["counts"]["train"]["Bag"] == 5
    assert info["source"] == "shipped" and info["n_test"] == 30

    # deterministic; a new seed draws other images
    ds.prepare("fashion_mnist", fmnist_raw, tmp_path / "b", **kw)
    for f in ("train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    ds.prepare("fashion_mnist", fmnist_raw, tmp_path / "b", **{**kw, "seed": 2})  # replaces b
    assert not np.array_equal(np.load(tmp_path / "b" / "train_x.npy"), x)

    # every image is an original one, with its label, byte for byte
    images = archives.read_idx(fmnist_raw / "train-images-idx3-ubyte.gz")
    labels = archives.read_idx(fmnist_raw / "train-labels-idx1-ubyte.gz")
    originals = {img.tobytes(): int(lab) for img, lab in zip(images, labels)}
    assert [originals.get(img[0].tobytes()) for img in x] == y.tolist()


@needs_shipped
def test_prepare_fashion_mnist_nested_subsets(fmnist_raw, tmp_path):
    kw = dict(image_size=28, channels=1, test_per_class=1)
    small = ds.prepare("fashion_mnist", fmnist_raw, tmp_path / "s", train_per_class=3, **kw)
    ds.prepare("fashion_mnist", fmnist_raw, tmp_path / "l", train_per_class=6, **kw)
    assert small["n_train"] == 30
    few = {a.tobytes() for a in np.load(tmp_path / "s" / "train_x.npy")}
    more = {a.tobytes() for a in np.load(tmp_path / "l" / "train_x.npy")}
    assert few < more


@needs_shipped
@pytest.mark.parametrize("resize", ["squash", "center_crop"])
def test_prepare_fashion_mnist_resize_rgb(fmnist_raw, tmp_path, resize):
    ds.prepare(
        "fashion_mnist", fmnist_raw, tmp_path / "g", image_size=28, channels=1, train_per_class=2, test_per_class=1
    )
    info = ds.prepare(
        "fashion_mnist",
        fmnist_raw,
        tmp_path / "c",
        image_size=32,
        channels=3,
        train_per_class=2,
        test_per_class=1,
        resize=resize,
        threads=2,
    )
    x = np.load(tmp_path / "c" / "train_x.npy")
    assert x.shape == (20, 3, 32, 32) and x.dtype == np.uint8
    assert (x[:, 0] == x[:, 1]).all() and (x[:, 0] == x[:, 2]).all()  # gray replicated
    assert info["channels"] == 3 and info["image_size"] == 32 and info["resize"] == resize
    np.testing.assert_array_equal(np.load(tmp_path / "c" / "train_y.npy"), np.load(tmp_path / "g" / "train_y.npy"))
    gray = np.load(tmp_path / "g" / "train_x.npy")[:, 0]
    expected = np.asarray(Image.fromarray(gray[0]).resize((32, 32), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(x[0, 0], expected)  # square source: both modes agree


@needs_shipped
def test_prepare_too_few_images_names_class(fmnist_raw, tmp_path):
    with pytest.raises(ValueError, match="class 'T-shirt/top' has 1000 images, fewer than"):
        ds.prepare(
            "fashion_mnist",
            fmnist_raw,
            tmp_path / "o",
            image_size=28,
            channels=1,
            train_per_class=5,
            test_per_class=1001,
        )
    assert not (tmp_path / "o").exists()


@needs_shipped
def test_fetch_shipped_missing(tmp_path):
    with pytest.raises(ValueError, match="no shipped copy"):
        ds.fetch("fashion_mnist", tmp_path / "raw", source="shipped", shipped_dir=tmp_path)
    assert not (tmp_path / "raw").exists()


# ---------------------------------------------------------------------------
# UC Merced and Brazilian Coffee Scenes from fake archives
# ---------------------------------------------------------------------------

N_CLASSES, N_PER_CLASS = 3, 10


def _image(value: int, size=(16, 16), fmt="TIFF") -> bytes:
    """A flat RGB image whose colour encodes ``value`` (so it can be recognised later)."""
    import io

    buf = io.BytesIO()
    Image.new("RGB", size, (value, 255 - value, 7)).save(buf, format=fmt)
    return buf.getvalue()


def _point_registry(monkeypatch, name: str, archive: Path, md5: str | None) -> None:
    item = {"urls": [archive.as_uri()], "md5": md5, "into": "", "extract": True}
    monkeypatch.setitem(ds.DATASETS, name, {**ds.DATASETS[name], "downloads": [item]})


@pytest.fixture
def uc_merced_zip(tmp_path, monkeypatch):
    members = {}
    for c in range(N_CLASSES):
        for i in range(N_PER_CLASS):
            members[f"UCMerced_LandUse/Images/class{c}/class{c}{i:02d}.tif"] = _image(c * 20 + i)
    members["UCMerced_LandUse/Images/class0/Thumbs.db"] = b"not an image"
    archive = _zip(tmp_path / "UCMerced_LandUse.zip", members)
    _point_registry(monkeypatch, "uc_merced", archive, hashlib.md5(archive.read_bytes()).hexdigest())
    return archive


def _values(x: np.ndarray) -> list[int]:
    return x[:, 0, 0, 0].tolist()  # red channel = the value each fake image encodes


def test_uc_merced_fetch_and_prepare(tmp_path, uc_merced_zip):
    raw = tmp_path / "raw" / "uc_merced"
    info = ds.fetch("uc_merced", raw, source="shipped")  # no shipped copy: downloads anyway
    assert info["source"] == "download" and info["files"][0]["verified"] == ["md5"]
    assert info["files"][0]["extracted_files"] == N_CLASSES * N_PER_CLASS + 1
    assert sorted(p.name for p in raw.iterdir()) == ["UCMerced_LandUse", "fetch.json"]

    kw = dict(image_size=16, channels=3, train_per_class=None, test_fraction=0.2, seed=3)
    out = ds.prepare("uc_merced", raw, tmp_path / "all", **kw)
    assert out["classes"] == ["class0", "class1", "class2"] and out["split"] == "stratified"
    assert out["counts"] == {"train": {f"class{c}": 8 for c in range(3)}, "test": {f"class{c}": 2 for c in range(3)}}
    train = np.load(tmp_path / "all" / "train_x.npy")
    test = np.load(tmp_path / "all" / "test_x.npy")
    assert train.shape == (24, 3, 16, 16)
    assert sorted(_values(train) + _values(test)) == sorted(c * 20 + i for c in range(3) for i in range(10))
    assert [v // 20 for v in _values(test)] == np.load(tmp_path / "all" / "test_y.npy").tolist()

    # subsetting happens after the split: the test split and the chosen train images stay put
    sub = ds.prepare("uc_merced", raw, tmp_path / "sub", **{**kw, "train_per_class": 5, "threads": 3})
    assert sub["n_train"] == 15 and sub["n_test"] == 6
    assert set(_values(np.load(tmp_path / "sub" / "train_x.npy"))) < set(_values(train))
    np.testing.assert_array_equal(np.load(tmp_path / "sub" / "test_x.npy"), test)

    gray = ds.prepare("uc_merced", raw, tmp_path / "gray", **{**kw, "channels": 1, "image_size": 8})
    assert np.load(tmp_path / "gray" / "train_x.npy").shape == (24, 1, 8, 8)
    assert gray["channels"] == 1


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_uc_merced_corrupt_image_names_file(tmp_path, uc_merced_zip):
    raw = tmp_path / "raw"
    ds.fetch("uc_merced", raw)
    bad = raw / "UCMerced_LandUse" / "Images" / "class1" / "class105.tif"
    bad.write_bytes(bad.read_bytes()[:40])
    for threads in (1, 2):
        with pytest.raises(ValueError, match="cannot decode image") as err:
            ds.prepare(
                "uc_merced",
                raw,
                tmp_path / "out",
                image_size=16,
                channels=3,
                train_per_class=None,
                test_fraction=0.5,
                threads=threads,
            )
        assert str(bad) in str(err.value)
    assert not (tmp_path / "out").exists()


def test_failed_fetch_leaves_nothing(tmp_path, monkeypatch, uc_merced_zip):
    _point_registry(monkeypatch, "uc_merced", uc_merced_zip, "0" * 32)
    raw = tmp_path / "deep" / "raw"
    with pytest.raises(RuntimeError, match="'uc_merced'") as err:
        ds.fetch("uc_merced", raw)
    assert uc_merced_zip.as_uri() in str(err.value) and "md5" in str(err.value)
    assert not (tmp_path / "deep").exists()


def test_fetch_corrupt_zip_names_it(tmp_path, monkeypatch):
    archive = tmp_path / "UCMerced_LandUse.zip"
    archive.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    _point_registry(monkeypatch, "uc_merced", archive, None)
    with pytest.raises(RuntimeError, match="UCMerced_LandUse.zip: corrupt or truncated"):
        ds.fetch("uc_merced", tmp_path / "raw")
    assert not (tmp_path / "raw").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["UCMerced_LandUse.zip"]


def test_fetch_refuses_foreign_folder(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="delete it"):
        ds.fetch("uc_merced", tmp_path / "raw")
    assert (tmp_path / "raw" / "mine.txt").read_text() == "keep me"


def test_brazilian_coffee_fold_lists(tmp_path, monkeypatch):
    members, value = {}, 0
    for fold in (1, 2):
        lines = []
        for cls in ("coffee", "noncoffee"):
            for i in range(5):
                stem = f"L{fold}.{i}.{value}"  # names hold dots, as in the real lists
                members[f"brazilian_coffee_scenes/fold{fold}/{stem}.jpg"] = _image(
                    value, (64, 64), "PNG"
                )  # lossless, so the colour survives
                lines.append(f"{cls}.{stem}")
                value += 1
        members[f"brazilian_coffee_scenes/fold{fold}.txt"] = "\n".join(lines).encode() + b"\n"
    members["brazilian_coffee_scenes/fold1/Thumbs.db"] = b"junk"
    archive = _zip(tmp_path / "brazilian_coffee_dataset.zip", members)
    _point_registry(monkeypatch, "brazilian_coffee", archive, None)
    raw = tmp_path / "raw"
    assert ds.fetch("brazilian_coffee", raw)["files"][0]["verified"] == []
    info = ds.prepare(
        "brazilian_coffee",
        raw,
        tmp_path / "out",
        image_size=32,
        channels=3,
        train_per_class=4,
        test_per_class=2,
        test_fraction=0.3,
    )
    assert info["classes"] == ["coffee", "noncoffee"]
    assert info["counts"] == {"train": {"coffee": 4, "noncoffee": 4}, "test": {"coffee": 2, "noncoffee": 2}}
    x, y = (np.load(tmp_path / "out" / f) for f in ("train_x.npy", "train_y.npy"))
    # values 0-4, 10-14 are coffee; 5-9, 15-19 noncoffee
    assert [(v // 5) % 2 for v in _values(x)] == y.tolist()


# ---------------------------------------------------------------------------
# names and arguments
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["fetch", "prepare"])
def test_unknown_dataset_lists_known(tmp_path, step):
    with pytest.raises(ValueError, match=r"unknown small-data dataset 'mnist'.*'brazilian_coffee'"):
        if step == "fetch":
            ds.fetch("mnist", tmp_path / "raw")
        else:
            ds.prepare("mnist", tmp_path, tmp_path / "out", image_size=28, channels=1, train_per_class=None)


@pytest.mark.parametrize("step", ["fetch", "prepare"])
def test_oasis_points_at_brain_study(tmp_path, step):
    assert "oasis" in ds.DATASETS
    with pytest.raises(NotImplementedError, match="brain-MRI study.*smalldata.datasets"):
        if step == "fetch":
            ds.fetch("oasis", tmp_path / "raw")
        else:
            ds.prepare("oasis", tmp_path, tmp_path / "out", image_size=28, channels=1, train_per_class=None)
    assert not (tmp_path / "raw").exists()


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"image_size": 0}, "image_size must be an integer"),
        ({"image_size": 32.0}, "image_size must be an integer"),
        ({"channels": 2}, "channels must be 1 or 3"),
        ({"train_per_class": 0}, "train_per_class must be an integer >= 1 or None"),
        ({"test_per_class": True}, "test_per_class must be"),
        ({"test_fraction": 1.0}, r"test_fraction must be in \(0, 1\)"),
        ({"resize": "crop"}, "resize must be one of"),
        ({"threads": 0}, "threads must be"),
        ({"seed": -1}, "seed must be"),
    ],
)
def test_prepare_bad_arguments(tmp_path, kw, message):
    args = {**dict(image_size=28, channels=1, train_per_class=5), **kw}
    with pytest.raises(ValueError, match=message):
        ds.prepare("fashion_mnist", tmp_path, tmp_path / "out", **args)


def test_fetch_bad_source(tmp_path):
    with pytest.raises(ValueError, match="source must be one of"):
        ds.fetch("fashion_mnist", tmp_path / "raw", source="torrent")


def test_registry_entries():
    for name, spec in ds.DATASETS.items():
        assert {"description", "talk_key", "split", "downloads"} <= set(spec), name
        assert spec["split"] in ("official", "none")
        for item in spec["downloads"]:
            assert item["urls"] and all(u.startswith(("http://", "https://")) for u in item["urls"])
    keys = {n: s["talk_key"] for n, s in ds.DATASETS.items()}
    assert keys["flowers102"] == "flowers" and keys["uc_merced"] == "land_use"
    assert keys["food101"] == "food" and keys["brazilian_coffee"] == "brazil"


@needs_shipped
def test_fetch_fashion_mnist_download_with_mirror(tmp_path, monkeypatch):
    # the Debian copies stand in for the server (their .gz md5s differ from the published ones)
    downloads = [
        {**item, "md5": None, "urls": [(tmp_path / "gone" / name).as_uri(), (SHIPPED / name).as_uri()]}
        for item, name in zip(ds.DATASETS["fashion_mnist"]["downloads"], registry.FMNIST_FILES)
    ]
    monkeypatch.setitem(ds.DATASETS, "fashion_mnist", {**ds.DATASETS["fashion_mnist"], "downloads": downloads})
    info = ds.fetch("fashion_mnist", tmp_path / "raw", source="download")
    assert info["source"] == "download"
    assert [f["url"] for f in info["files"]] == [(SHIPPED / n).as_uri() for n in registry.FMNIST_FILES]
    out = ds.prepare(
        "fashion_mnist",
        tmp_path / "raw",
        tmp_path / "out",
        image_size=28,
        channels=1,
        train_per_class=1,
        test_per_class=1,
    )
    assert out["source"] == "download" and out["n_train"] == 10


def test_prepare_flowers102_layout(tmp_path):
    from scipy.io import savemat

    base = tmp_path / "raw" / "flowers-102"
    (base / "jpg").mkdir(parents=True)
    labels = np.array([1, 1, 2, 2, 102, 102, 1, 2])  # 1-based, as in imagelabels.mat
    for i in range(1, 9):
        Image.new("RGB", (40, 30), (i, 0, 0)).save(base / "jpg" / f"image_{i:05d}.jpg")
    savemat(base / "imagelabels.mat", {"labels": labels[None]})
    savemat(
        base / "setid.mat",
        {"trnid": np.array([[1, 3, 5]]), "valid": np.array([[7, 8]]), "tstid": np.array([[2, 4, 6]])},
    )
    info = ds.prepare(
        "flowers102",
        tmp_path / "raw",
        tmp_path / "out",
        image_size=24,
        channels=3,
        train_per_class=None,
        resize="center_crop",
    )
    assert len(info["classes"]) == 102 and info["classes"][0] == "pink primrose"
    assert info["n_train"] == 5 and info["n_test"] == 3 and info["source"] == "unknown"
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "train_y.npy"), [0, 1, 101, 0, 1])
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "test_y.npy"), [0, 1, 101])
    assert np.load(tmp_path / "out" / "test_x.npy").shape == (3, 3, 24, 24)


def test_prepare_food101_layout(tmp_path):
    base = tmp_path / "raw" / "food-101"
    meta = {"train": {}, "test": {}}
    for cls in ("waffles", "apple_pie"):
        (base / "images" / cls).mkdir(parents=True)
        for i in range(5):
            Image.new("RGB", (50, 40), (i, 9, 9)).save(base / "images" / cls / f"{i}.jpg")
        meta["train"][cls] = [f"{cls}/{i}" for i in range(3)]
        meta["test"][cls] = [f"{cls}/{i}" for i in range(3, 5)]
    (base / "meta").mkdir()
    for split, lists in meta.items():
        (base / "meta" / f"{split}.json").write_text(json.dumps(lists))
    info = ds.prepare(
        "food101",
        tmp_path / "raw",
        tmp_path / "out",
        image_size=16,
        channels=1,
        train_per_class=2,
        test_per_class=1,
        threads=2,
    )
    assert info["classes"] == ["apple_pie", "waffles"]
    assert info["counts"] == {"train": {"apple_pie": 2, "waffles": 2}, "test": {"apple_pie": 1, "waffles": 1}}
    assert np.load(tmp_path / "out" / "train_x.npy").shape == (4, 1, 16, 16)
    with pytest.raises(ValueError, match="class 'apple_pie' has 3 images, fewer than the 4"):
        ds.prepare("food101", tmp_path / "raw", tmp_path / "out", image_size=16, channels=1, train_per_class=4)
    (base / "meta" / "test.json").unlink()
    with pytest.raises(FileNotFoundError, match="test.json"):
        ds.prepare("food101", tmp_path / "raw", tmp_path / "o2", image_size=16, channels=1, train_per_class=None)
