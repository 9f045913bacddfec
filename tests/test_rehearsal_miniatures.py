"""The miniatures of the paper configuration's downloads, read by the libraries that read
the real formats (torchvision, nibabel, nilearn, aeon, scipy, Pillow): the independent
evidence that each miniature has the published layout. Built once per session.

Where torchvision verifies the published md5 of a file (Flowers102's ``.mat`` files,
CIFAR-100's pickles, ImageNet's archives) no miniature can pass: those tests replace
only ``check_integrity`` in that dataset's module by an existence check, and say so.
"""

import csv
import gzip
import hashlib
import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
import rehearsal_support
import yaml
from rehearsal_support import HAS_WORDNET, existence_only, served

from cnnpractice.rehearsal import mini_brain, mini_semantic, mini_smalldata, mini_ucr
from cnnpractice.rehearsal.layout import mirror_relpath, mirror_url
from cnnpractice.rehearsal.miniatures import BUILDERS, build_miniatures
from cnnpractice.semantic.wordnet import DEBIAN_DIR

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mini(tmp_path_factory):
    return rehearsal_support.miniatures(tmp_path_factory)


@pytest.fixture(scope="session")
def mini_weights(tmp_path_factory):
    out, info = rehearsal_support.weights(tmp_path_factory)
    yield out, info
    shutil.rmtree(out, ignore_errors=True)  # about 900 MB


# --------------------------------------------------------------------------- layout, manifest


@pytest.mark.parametrize(
    "url, path",
    [
        (
            "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
            "www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        ),
        ("https://zenodo.org/api/records/11191011?x=1#y", "zenodo.org/api/records/11191011"),
        ("http://Data.Vision.ee.ethz.ch:80/cvl/food-101.tar.gz", "data.vision.ee.ethz.ch/cvl/food-101.tar.gz"),
        ("https://a.org/x%20y/z.zip", "a.org/x y/z.zip"),
    ],
)
def test_mirror_relpath(url, path):
    assert str(mirror_relpath(url)) == path
    # on a mirror URL the path is quoted again (the server unquotes it back to the file)
    assert mirror_url(url, "http://127.0.0.1:9/") == "http://127.0.0.1:9/" + quote(path)


@pytest.mark.parametrize("url", ["https://a.org/", "file:///etc/passwd", "https://a.org/x/../../y", "/relative/p"])
def test_mirror_relpath_refuses(url):
    with pytest.raises(ValueError, match="cannot be mapped"):
        mirror_relpath(url)


def test_manifest_lists_every_file_with_its_digests(mini):
    out, info = mini
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    listed = {f["path"] for f in info["files"]}
    assert on_disk - listed == {"manifest.json", "SHA256SUMS", "MD5SUMS"}
    for entry in info["files"]:
        data = (out / entry["path"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()) == (
            entry["size"],
            entry["sha256"],
            entry["md5"],
        )
        if entry["url"]:
            assert entry["path"] == "mirror/" + str(mirror_relpath(entry["url"]))
    sums = (out / "SHA256SUMS").read_text().splitlines()
    assert sorted(sums) == sorted(f"{f['sha256']}  {f['path']}" for f in info["files"])
    assert json.loads((out / "manifest.json").read_text())["files"] == info["files"]
    # the published checksums the code checks for the real files are recorded, and differ
    replaced = {f["dataset"] for f in info["files"] if f["replaces"]}
    assert {"fashion_mnist", "flowers102", "food101", "uc_merced", "cifar100", "oasis"} <= replaced
    assert all(f["replaces"].get("md5") not in (None, f["md5"]) for f in info["files"] if "md5" in f["replaces"])


CHEAP = ["ucr", "fashion_mnist", "flowers102", "food101", "brazilian_coffee", "cifar100", "harvard_oxford"]


def test_same_seed_same_bytes_other_seed_other_bytes(mini, tmp_path):
    again = build_miniatures(tmp_path / "a", seed=0, only=CHEAP)
    first = {f["path"]: f["sha256"] for f in mini[1]["files"] if f["dataset"] in CHEAP}
    assert {f["path"]: f["sha256"] for f in again["files"]} == first
    other = build_miniatures(tmp_path / "b", seed=1, only=["flowers102"])
    assert all(first[f["path"]] != f["sha256"] for f in other["files"])


@pytest.mark.slow
def test_every_miniature_is_reproducible(mini, mini_weights, tmp_path):
    """The expensive ones too (OASIS, ImageNet, WordNet, UC Merced, the weights)."""
    rest = sorted({f["dataset"] for f in mini[1]["files"]} - set(CHEAP))
    again = build_miniatures(tmp_path / "rest", seed=0, only=rest)
    assert {f["path"]: f["sha256"] for f in again["files"]} == {
        f["path"]: f["sha256"] for f in mini[1]["files"] if f["dataset"] in rest
    }
    weights = build_miniatures(tmp_path / "weights", seed=0, only=["torchvision_weights"])
    try:
        assert [f["sha256"] for f in weights["files"]] == [f["sha256"] for f in mini_weights[1]["files"]]
    finally:
        shutil.rmtree(tmp_path / "weights")


def test_refuses_a_foreign_folder_and_unknown_names(tmp_path):
    (tmp_path / "mine.txt").write_text("x")
    with pytest.raises(FileExistsError, match="holds no manifest.json"):
        build_miniatures(tmp_path, only=["fashion_mnist"])
    with pytest.raises(ValueError, match="unknown miniature"):
        build_miniatures(tmp_path / "new", only=["imagenet21k"])
    assert set(BUILDERS) >= {"ucr", "oasis", "harvard_oxford", "imagenet", "torchvision_weights"}


# --------------------------------------------------------------------------- UCR (aeon)


@pytest.mark.parametrize("name", sorted(mini_ucr.UCR_DATASETS))
def test_ucr_ts_files_read_by_aeon(mini, name):
    from aeon.datasets import load_from_ts_file
    from aeon.datasets.tsc_datasets import tsc_zenodo

    labels, length, _, _ = mini_ucr.UCR_DATASETS[name]
    record = json.loads(served(mini, f"https://zenodo.org/api/records/{tsc_zenodo[name]}").read_bytes())
    assert sorted(f["key"] for f in record["files"]) == [f"{name}_TEST.ts", f"{name}_TRAIN.ts"]
    for entry in record["files"]:
        path = served(mini, mini_ucr.ZENODO_FILE_URL.format(record=tsc_zenodo[name], key=entry["key"]))
        assert entry["checksum"] == "md5:" + hashlib.md5(path.read_bytes()).hexdigest()
        X, y = load_from_ts_file(str(path))
        k = mini_ucr.PER_CLASS["TRAIN" if "TRAIN" in entry["key"] else "TEST"]
        assert len(X) == len(y) == k * len(labels)
        if isinstance(length, tuple):  # unequal lengths: aeon gives a list of (1, n) arrays
            assert all(x.shape[0] == 1 and length[0] <= x.shape[1] <= length[1] for x in X)
            assert len({x.shape[1] for x in X}) > 1 and all(np.all(np.isfinite(x)) for x in X)
        else:
            assert X.shape == (k * len(labels), 1, length) and np.all(np.isfinite(X))
        assert sorted(set(y)) == sorted(labels)


# --------------------------------------------------------------------------- small-data datasets


def test_fashion_mnist_read_by_torchvision(mini, tmp_path):
    from torchvision.datasets import FashionMNIST

    from cnnpractice.smalldata.registry import DATASETS

    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for item in DATASETS["fashion_mnist"]["downloads"]:
        gz = served(mini, item["urls"][0]).read_bytes()
        (raw / Path(item["urls"][0]).stem).write_bytes(gzip.decompress(gz))
    train = FashionMNIST(str(tmp_path), train=True)
    test = FashionMNIST(str(tmp_path), train=False)
    assert (len(train), len(test)) == (10 * 6, 10 * 3)
    assert sorted(set(train.targets.tolist())) == list(range(10)) and train.data.shape[1:] == (28, 28)


def test_flowers102_read_by_torchvision(mini, tmp_path, monkeypatch):
    import torchvision.datasets.flowers102 as flowers_module
    from torchvision.datasets import Flowers102

    base = tmp_path / "flowers-102"
    base.mkdir()
    for fname in ("102flowers.tgz", "imagelabels.mat", "setid.mat"):
        shutil.copy(served(mini, f"https://www.robots.ox.ac.uk/~vgg/data/flowers/102/{fname}"), base)
    with tarfile.open(base / "102flowers.tgz") as tf:
        tf.extractall(base, filter="data")
    # torchvision checks the published md5 of the .mat files; a miniature cannot match it
    monkeypatch.setattr(flowers_module, "check_integrity", existence_only)
    for split, key in (("train", "trnid"), ("val", "valid"), ("test", "tstid")):
        ds = Flowers102(str(tmp_path), split=split)
        assert len(ds) == 102 * mini_smalldata.FLOWERS_PER_CLASS[key]
        assert sorted(set(ds._labels)) == list(range(102))
    image, label = ds[0]
    assert image.mode == "RGB" and 0 <= label < 102


def test_food101_read_by_torchvision(mini, tmp_path):
    from torchvision.datasets import Food101

    with tarfile.open(served(mini, "http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz")) as tf:
        tf.extractall(tmp_path, filter="data")
    train, test = Food101(str(tmp_path), split="train"), Food101(str(tmp_path), split="test")
    assert train.classes == sorted(mini_smalldata.FOOD101_CLASSES) and len(train.classes) == 101
    assert (len(train), len(test)) == (101 * 3, 101 * 2)
    image, _ = test[5]
    assert image.mode == "RGB"
    meta = tmp_path / "food-101" / "meta"
    assert (meta / "classes.txt").read_text().split() == sorted(mini_smalldata.FOOD101_CLASSES)
    assert len((meta / "train.txt").read_text().split()) == len(train)


def test_uc_merced_zip_read_by_pillow_and_imagefolder(mini, tmp_path):
    from PIL import Image
    from torchvision.datasets import ImageFolder

    with zipfile.ZipFile(served(mini, "http://weegee.vision.ucmerced.edu/datasets/UCMerced_LandUse.zip")) as zf:
        assert zf.testzip() is None
        zf.extractall(tmp_path)
    folder = ImageFolder(str(tmp_path / "UCMerced_LandUse" / "Images"))
    assert folder.classes == mini_smalldata.UC_MERCED_CLASSES and len(folder) == 21 * 4
    with Image.open(tmp_path / "UCMerced_LandUse/Images/agricultural/agricultural00.tif") as im:
        assert (im.format, im.mode, im.size) == ("TIFF", "RGB", (256, 256))


def test_brazilian_coffee_follows_the_fold_lists(mini, tmp_path):
    from PIL import Image

    url = "http://www.patreo.dcc.ufmg.br/wp-content/uploads/2017/11/brazilian_coffee_dataset.zip"
    with zipfile.ZipFile(served(mini, url)) as zf:
        zf.extractall(tmp_path)
    root = tmp_path / "brazilian_coffee_scenes"
    for fold in range(1, 6):  # the rule TensorFlow Datasets' reader applies: <label>.<a>.<b>.<c>.<d>.<e>
        for line in (root / f"fold{fold}.txt").read_text().splitlines():
            parts = line.split(".")
            assert parts[0] in ("coffee", "noncoffee") and len(parts) == 6
            with Image.open(root / f"fold{fold}" / (".".join(parts[1:]) + ".jpg")) as im:
                assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (64, 64))


# --------------------------------------------------------------------------- CIFAR-100, ImageNet


def test_cifar100_read_by_torchvision_and_python2_pickle_layout(mini, tmp_path, monkeypatch):
    import pickle

    import torchvision.datasets.cifar as cifar_module
    from torchvision.datasets import CIFAR100

    from cnnpractice.semantic import cifar100

    with tarfile.open(served(mini, cifar100.URL)) as tf:
        tf.extractall(tmp_path, filter="data")
    # torchvision checks the published md5 of every pickle; a miniature cannot match it
    monkeypatch.setattr(cifar_module, "check_integrity", existence_only)
    train, test = CIFAR100(str(tmp_path), train=True), CIFAR100(str(tmp_path), train=False)
    assert train.classes == sorted(cifar100.SYNSETS) and train.data.shape == (500, 32, 32, 3)
    assert len(test) == 200 and sorted(set(test.targets)) == list(range(100))
    raw = (tmp_path / "cifar-100-python" / "train").read_bytes()
    assert b"numpy.core.multiarray" in raw  # as the real (Python 2, numpy 1) pickles
    assert set(pickle.loads(raw, encoding="bytes")) == {
        b"data",
        b"fine_labels",
        b"coarse_labels",
        b"filenames",
        b"batch_label",
    }
    x, y = cifar100.read_split(tmp_path, "test")
    assert x.shape == (200, 3, 32, 32) and np.array_equal(x.transpose(0, 2, 3, 1), test.data)


@pytest.mark.skipif(not HAS_WORDNET, reason="the ImageNet miniature takes its classes from Debian's WordNet")
def test_imagenet_read_by_torchvision(mini, tmp_path, monkeypatch):
    import torchvision.datasets.imagenet as imagenet_module
    from torchvision.datasets import ImageNet

    shutil.copytree(mini[0] / "local" / "imagenet", tmp_path, dirs_exist_ok=True)
    with tarfile.open(tmp_path / "ILSVRC2012_img_val.tar") as tf:
        names = tf.getnames()
    assert names[0] == "ILSVRC2012_val_00000001.JPEG" and all("/" not in n for n in names)
    # torchvision checks the published md5 of both archives; a miniature cannot match it
    monkeypatch.setattr(imagenet_module, "check_integrity", existence_only)
    ds = ImageNet(str(tmp_path), split="val")
    assert len(ds.wnids) == 1000 and len(ds) == 1000 * mini_semantic.IMAGENET_PER_CLASS
    offsets = {line[:8] for line in (Path(DEBIAN_DIR) / "data.noun").read_text().splitlines()}
    assert all(w[1:] in offsets for w in ds.wnids)  # WordNet 3.0 noun offsets, as ImageNet's
    assert all(isinstance(c, tuple) and c for c in ds.classes)
    image, label = ds[0]
    assert image.mode == "RGB" and ds.wnids[label] in ds.wnids


@pytest.mark.slow  # nltk's reader loads the whole of WordNet
@pytest.mark.skipif(not HAS_WORDNET, reason="the WordNet repack is made from Debian's WordNet")
def test_wordnet_installed_by_nltks_downloader(mini, tmp_path, monkeypatch):
    """nltk's own installer (index.xml, md5 check, unzip into corpora/), then nltk's reader.

    nltk refuses loopback URLs and file:// paths outside nltk.data.path, so the index and
    the zip are read through file:// from a folder added to nltk.data.path, the package
    URL pointing there (the only change to the index)."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    from nltk.downloader import Downloader

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path), *nltk.data.path])
    index = served(mini, mini_semantic.NLTK_INDEX_URL).read_text()
    zip_path = Path(shutil.copy(served(mini, mini_semantic.NLTK_WORDNET_URL), tmp_path / "wordnet.zip"))
    (tmp_path / "index.xml").write_text(index.replace(mini_semantic.NLTK_WORDNET_URL, zip_path.as_uri()))
    downloader = Downloader(server_index_url=(tmp_path / "index.xml").as_uri())
    assert downloader.download("wordnet", download_dir=str(tmp_path / "nltk_data"), quiet=True, raise_on_error=True)
    corpus = tmp_path / "nltk_data" / "corpora" / "wordnet"
    reader = WordNetCorpusReader(str(corpus), None)
    assert reader.get_version() == "3.0" and reader.synset_from_pos_and_offset("n", 1440764).name() == "tench.n.01"


# --------------------------------------------------------------------------- brain (nibabel, nilearn)


def test_oasis_disc_read_by_nibabel(mini, tmp_path):
    import nibabel as nib

    from cnnpractice.brain.oasis_fetch import OASIS1_DISC_URL

    with tarfile.open(served(mini, OASIS1_DISC_URL.format(disc=2))) as tf:
        tf.extractall(tmp_path, filter="data")
    sessions = sorted((tmp_path / "disc2").glob("OAS1_*_MR1"))
    assert len(sessions) == 2
    for session in sessions:
        (t88,) = session.glob("PROCESSED/MPRAGE/T88_111/*_t88_masked_gfc.hdr")
        img = nib.load(str(t88))
        assert img.shape == (176, 208, 176, 1) and img.get_data_dtype() == np.dtype(">i2")
        assert nib.aff2axcodes(img.affine) == ("L", "A", "S") and img.header.get_zooms()[:3] == (1, 1, 1)
        data = np.asarray(img.dataobj)[..., 0]
        assert data[88, 104, 88] > 0 and data[0, 0, 0] == 0  # a brain in the middle, air at the corner
        (raw,) = session.glob("RAW/*_mpr-1_anon.img")
        raw_img = nib.load(str(raw))
        assert raw_img.shape == (256, 256, 128, 1) and raw_img.header.get_zooms()[:3] == (1, 1, 1.25)


def test_oasis_clinical_csv_has_the_real_columns(mini):
    from cnnpractice.brain.oasis import read_clinical
    from cnnpractice.brain.oasis_fetch import OASIS1_CLINICAL_URL

    path = served(mini, OASIS1_CLINICAL_URL)
    header = next(csv.reader(io.StringIO(path.read_text())))
    assert header == ["ID", "M/F", "Hand", "Age", "Educ", "SES", "MMSE", "CDR", "eTIV", "nWBV", "ASF", "Delay"]
    rows = read_clinical(path)
    cdrs = [r["cdr"] for r in rows if r["session"] == "MR1"]
    assert cdrs.count(None) == 12 and cdrs.count(0.0) == 12 and cdrs.count(1.0) == 6


def test_harvard_oxford_read_by_nilearn(mini, tmp_path):
    import inspect

    from nilearn import datasets
    from nilearn.datasets import atlas as nilearn_atlas

    from cnnpractice.brain.atlases import load_atlas

    assert mini_brain.HO_URL in inspect.getsource(nilearn_atlas._get_atlas_data_and_labels)
    with tarfile.open(served(mini, mini_brain.HO_URL)) as tf:
        tf.extractall(tmp_path / "fsl", filter="data")  # where nilearn keeps it: <data_dir>/fsl
    cort = datasets.fetch_atlas_harvard_oxford("cort-maxprob-thr25-2mm", data_dir=str(tmp_path), verbose=0)
    sub = datasets.fetch_atlas_harvard_oxford("sub-maxprob-thr25-2mm", data_dir=str(tmp_path), verbose=0)
    assert len(cort.labels) == 49 and len(sub.labels) == 22 and "Left Lateral Ventricle" in sub.labels
    assert cort.maps.shape == (91, 109, 91) and int(np.asarray(cort.maps.dataobj).max()) == 48
    labels, names = load_atlas("harvard_oxford", mini_brain.HO_AFFINE, mini_brain.HO_SHAPE, data_dir=tmp_path)
    assert "Left Hippocampus" in names.values() and len(np.unique(labels)) > 40


# --------------------------------------------------------------------------- torchvision weights


def _config_models():
    """Every torchvision (arch, weights) pair of config.yaml layered with paper.yaml."""

    def merge(a, b):
        return {
            k: merge(a[k], b[k]) if isinstance(a.get(k), dict) and isinstance(b.get(k), dict) else b.get(k, a.get(k))
            for k in {**a, **b}
        }

    cfg = merge(*(yaml.safe_load((ROOT / "config" / f).read_text()) for f in ("config.yaml", "paper.yaml")))
    pairs = set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("enabled", True) and isinstance(node.get("arch"), str) and node.get("weights"):
                pairs.add((node["arch"], node["weights"]))
            for value in node.values():
                walk(value)

    walk(cfg)
    if cfg["smalldata"]["features"]["decaf"].get("enabled"):
        pairs.add(("alexnet", cfg["smalldata"]["features"]["decaf"]["weights"]))
    return pairs


def test_weights_cover_the_paper_config():
    assert _config_models() == set(mini_semantic.WEIGHTS)


@pytest.mark.slow  # writes about 900 MB of weights
@pytest.mark.parametrize("arch, weights", mini_semantic.WEIGHTS)
def test_weights_load_through_torchvision_builders(mini_weights, monkeypatch, arch, weights):
    import torch
    import torchvision

    out, info = mini_weights
    monkeypatch.setenv("TORCH_HOME", str(out / "local" / "torch"))
    url = torchvision.models.get_model_weights(arch)[weights].url
    assert (out / "local/torch/hub/checkpoints" / url.rsplit("/", 1)[-1]).is_file()
    model = torchvision.models.get_model(arch, weights=weights)  # no network: the conftest refuses it
    state = torch.load(served(mini_weights, url), map_location="cpu", weights_only=True)
    for key, value in model.state_dict().items():
        if key in state:
            assert torch.equal(value, state[key]), key
    entry = next(f for f in info["files"] if f["url"] == url)
    assert entry["replaces"]["sha256_prefix"] == url.rsplit("-", 1)[-1].split(".")[0]
