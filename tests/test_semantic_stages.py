"""The semantic study's steps end to end on tiny inputs: extraction, WordNet, taxonomy, tables."""

import csv
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import needs_debian_wordnet

from cnnpractice.semantic import cifar100, sources, stages, wordnet

ARCH = {"variant": "alexnet", "geometry": "small", "width": 0.125, "dropout": 0.0}
# ImageNet wnids: dog, domestic cat, car, truck
WNIDS = ["n02084071", "n02121808", "n02958343", "n04490091"]


def write_prepared(folder: Path, n: int = 24, classes=("a", "b", "c")) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for split in ("train", "test"):
        np.save(folder / f"{split}_x.npy", rng.integers(0, 256, (n, 1, 16, 16), dtype=np.uint8))
        np.save(folder / f"{split}_y.npy", np.arange(n, dtype=np.int64) % len(classes))
    (folder / "classes.json").write_text(json.dumps({"classes": list(classes)}))
    return folder


def write_checkpoint(folder: Path, mean=50.0, std=60.0) -> Path:
    """A checkpoint as the workflow's runner writes it (test.json beside it), random weights."""
    import pytorch_lightning as pl

    from cnnpractice.training.module import ClassificationModule

    torch.manual_seed(0)
    spec = {"name": "alexnet", **ARCH, "in_channels": 1, "n_classes": 3, "input_size": 16}
    module = ClassificationModule(model_spec=spec)
    folder.mkdir(parents=True)
    torch.save(
        {
            "state_dict": module.state_dict(),
            "hyper_parameters": dict(module.hparams),
            "pytorch-lightning_version": pl.__version__,
        },
        folder / "model.ckpt",
    )
    (folder / "test.json").write_text(json.dumps({"normalization": {"mean": [mean], "std": [std]}}))
    return folder / "model.ckpt"


def test_extraction_of_a_workflow_network_gives_the_class_means_of_its_blocks(tmp_path):
    data = write_prepared(tmp_path / "data")
    ckpt = write_checkpoint(tmp_path / "net")
    info = stages.extract_semantic_activations(
        out_dir=tmp_path / "acts",
        network={"kind": "workflow", "arch": "alexnet"},
        dataset={"kind": "arrays", "data_dir": str(data), "split": "test"},
        layers=["conv2", "conv5", "fc7"],
        seeds=[11],
        ckpts={11: ckpt},
        batch_size=5,
        accelerator="cpu",
    )
    assert info["counts"] == [8, 8, 8] and info["features"]["fc7"] == 512 and info["classes"] == ["a", "b", "c"]
    assert [n["name"] for n in info["networks"]] == ["trained_s11", "untrained_s11"]
    from cnnpractice.models import build_model
    from cnnpractice.semantic.sources import workflow_network

    trained, _ = workflow_network(ckpt)
    spec = torch.load(ckpt, map_location="cpu", weights_only=True)["hyper_parameters"]["model_spec"]
    torch.manual_seed(11)
    untrained = build_model(spec).eval()
    x = torch.from_numpy((np.load(data / "test_x.npy").astype(np.float32) - 50.0) / 60.0)
    y = np.load(data / "test_y.npy")
    for name, net in (("trained_s11", trained), ("untrained_s11", untrained)):
        with torch.no_grad():
            blocks = net.block_features(x, [2, 5])
            fc7 = net.head[:7](_through_blocks(net, x))
        for layer, features in (("conv2", blocks[2]), ("conv5", blocks[5]), ("fc7", fc7)):
            saved = stages.load_activations(tmp_path / "acts" / name / f"{layer}.npz")
            expected = np.stack([features.numpy()[y == c].mean(axis=0) for c in range(3)])
            np.testing.assert_allclose(saved["means"], expected, rtol=1e-4, atol=1e-5)
    a = stages.load_activations(tmp_path / "acts" / "trained_s11" / "conv5.npz")["means"]
    b = stages.load_activations(tmp_path / "acts" / "untrained_s11" / "conv5.npz")["means"]
    assert not np.allclose(a, b)  # the checkpoint's weights are not a fresh initialisation
    assert json.loads((tmp_path / "acts" / "classes.json").read_text())["layers"]["fc7"] == "head.6"


def test_the_untrained_network_is_where_its_trained_twin_started(tmp_path):
    """With a zero learning rate the runner's network stays at its initialisation: the
    untrained twin of that seed must be exactly it."""
    from cnnpractice.semantic.networks import untrained_workflow_network
    from cnnpractice.smalldata.stages import train_smalldata

    data = write_prepared(tmp_path / "data")
    training = {
        "val_fraction": 0.25,
        "batch_size": 8,
        "max_epochs": 1,
        "lr": 0.0,
        "weight_decay": 0.0,
        "scheduler": "none",
        "label_smoothing": 0.0,
        "monitor": "val_loss",
    }
    trainer = {"accelerator": "cpu", "devices": 1, "deterministic": True, "progress_bar": False}
    train_smalldata(
        data_dir=data,
        out_dir=tmp_path / "run",
        dataset="toy",
        arch="a",
        arch_params=ARCH,
        kind="full",
        stage=5,
        training=training,
        trainer=trainer,
        seed=5,
    )
    trained = torch.load(tmp_path / "run" / "model.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    for seed, same in ((5, True), (6, False)):
        net, norm = untrained_workflow_network(tmp_path / "run" / "model.ckpt", seed)
        fresh = net.state_dict()
        equal = all(torch.equal(trained[f"net.{k}"], v) for k, v in fresh.items())
        assert equal is same, seed
    assert len(norm["mean"]) == 1


def _through_blocks(net, x):
    for block in net.blocks:
        x = block(x)
    return x


def write_image_folder(root: Path, per_class: int = 2) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for wnid in WNIDS:
        (root / "val" / wnid).mkdir(parents=True)
        for i in range(per_class + 1):
            Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(root / "val" / wnid / f"{i}.JPEG")
    # what prepare_imagenet writes beside the class folders (cnnpractice.data.imagenet)
    classes = [{"wnid": w, "name": w, "words": w, "images": per_class + 1} for w in sorted(WNIDS)]
    (root / "classes.json").write_text(json.dumps({"split": "val", "classes": classes}))
    return root


@needs_debian_wordnet
def test_imagenet_folder_to_taxonomy_and_layer_table(tmp_path, nltk_root):
    root = write_image_folder(tmp_path / "imagenet")
    acts, out = tmp_path / "acts", tmp_path / "out"
    info = stages.extract_semantic_activations(
        out_dir=acts,
        network={"kind": "torchvision", "arch": "googlenet", "weights": None},
        dataset={
            "kind": "imagenet",
            "root": str(root),
            "split": "val",
            "resize": 40,
            "crop": 32,
            "images_per_class": 2,
        },
        layers=["inception4a", "inception5b"],
        seeds=[0],
        batch_size=3,
        accelerator="cpu",
    )
    assert info["class_ids"] == WNIDS and info["counts"] == [2, 2, 2, 2] and info["features"]["inception5b"] == 1024
    assert [n["name"] for n in info["networks"]] == ["trained", "untrained_s0"]
    tree = stages.map_semantic_classes(
        nltk_data=nltk_root, activations=acts, dataset="imagenet", synsets={}, out=tmp_path / "wordnet.npz"
    )
    assert tree["synsets"].tolist() == ["dog.n.01", "domestic_cat.n.01", "car.n.01", "truck.n.01"]
    reference = Path(stages.__file__).parents[1] / "reference" / "semantic.yaml"
    scores = []
    for layer in ("inception4a", "inception5b"):
        paths = {name: out / layer / name for name in ("taxonomy.csv", "taxonomy.md", "clusters.csv", "scores.json")}
        s = stages.induce_semantic_taxonomy(
            activations=acts,
            hierarchy=tmp_path / "wordnet.npz",
            model="googlenet",
            layer=layer,
            k_min=2,
            k_max=19,
            seed=0,
            draws=200,
            permutations=99,
            talk_reference=reference,
            out_csv=paths["taxonomy.csv"],
            out_md=paths["taxonomy.md"],
            out_clusters=paths["clusters.csv"],
            out_scores=paths["scores.json"],
        )
        scores.append(paths["scores.json"])
        assert (s["k_min"], s["k_max"]) == (2, 3) and "clamped to 3" in s["k_note"]
        trained, untrained = s["groups"]["trained"], s["groups"]["untrained"]
        assert trained["n_networks"] == 1 and trained["mean_f1"]["n"] == 1 and untrained["n_networks"] == 1
        assert -1.0 <= trained["rank_correlation"]["mean"] <= 1.0 and 0.0 < trained["mean_f1"]["mean"] <= 1.0
        assert 0.0 < trained["f1_p"] <= 1.0 and trained["f1_null"]["n"] == 200
        assert s["trained_vs_untrained"] is None  # a pretrained network has no seed to pair with
        with open(paths["taxonomy.csv"]) as fh:
            rows = list(csv.DictReader(fh))
        assert [r["k"] for r in rows] == ["2", "3"]
        assert rows[0]["talk"] == "Living thing; Artifact" and rows[0]["talk_found"].endswith("/2")
        assert all(r["f1_null_n"] == "200" and 0 < float(r["f1_p"]) <= 1 for r in rows)
        assert "k_max 19 clamped to 3" in paths["taxonomy.md"].read_text()
    stages.tabulate_semantic(
        score_files=scores,
        layer_order={"googlenet": ["inception4a", "inception5b"]},
        out_csv=tmp_path / "layers.csv",
        out_md=tmp_path / "layers.md",
        out_k_csv=tmp_path / "layers_k.csv",
    )
    with open(tmp_path / "layers.csv") as fh:
        assert [(r["layer"], r["network"], r["depth"]) for r in csv.DictReader(fh)] == [
            ("inception4a", "trained", "1"),
            ("inception4a", "untrained", "1"),
            ("inception5b", "trained", "2"),
            ("inception5b", "untrained", "2"),
        ]
    with open(tmp_path / "layers_k.csv") as fh:
        assert {(r["layer"], r["k"]) for r in csv.DictReader(fh)} == {
            (la, k) for la in ("inception4a", "inception5b") for k in "23"
        }
    stages.plot_semantic_layers(
        score_files=scores, layer_order={"googlenet": ["inception4a", "inception5b"]}, out=tmp_path / "layers.png"
    )
    assert (tmp_path / "layers.png").stat().st_size > 5_000


def write_activations(folder: Path, classes, networks) -> Path:
    """An extraction folder: classes.json and <network>/<layer>.npz; ``networks``: name ->
    (group, seed, {layer: means})."""
    from cnnpractice.io import save_npz

    folder.mkdir(parents=True)
    plan = [{"name": name, "group": group, "seed": seed} for name, (group, seed, _) in networks.items()]
    (folder / "classes.json").write_text(json.dumps({"classes": classes, "class_ids": classes, "networks": plan}))
    for name, (_, _, layers) in networks.items():
        (folder / name).mkdir()
        for layer, means in layers.items():
            save_npz(
                folder / name / f"{layer}.npz",
                means=np.asarray(means, np.float32),
                counts=np.full(len(classes), 5),
                classes=np.array(classes),
                class_ids=np.array(classes),
            )
    return folder


@needs_debian_wordnet
def test_same_inputs_same_taxonomy(tmp_path, nltk_root):
    rng = np.random.default_rng(5)
    classes = ["Dog", "Cat", "Car", "Truck", "Sandal", "Boot"]
    synsets = dict(zip(classes, ["dog.n.01", "house_cat.n.01", "car.n.01", "truck.n.01", "sandal.n.01", "boot.n.01"]))

    def structured():  # pairs of classes share a direction: animals, vehicles, shoes
        return np.abs(rng.normal(size=(6, 16))) + np.repeat(np.eye(3), 2, axis=0) @ (
            3 * np.abs(rng.normal(size=(3, 16)))
        )

    networks = {f"trained_s{s}": ("trained", s, {"l": structured()}) for s in (3, 4, 5)}
    networks |= {f"untrained_s{s}": ("untrained", s, {"l": np.abs(rng.normal(size=(6, 16)))}) for s in (3, 4, 5)}
    acts = write_activations(tmp_path / "acts", classes, networks)
    stages.map_semantic_classes(
        nltk_data=nltk_root, activations=acts, dataset="fashion_mnist", synsets=synsets, out=tmp_path / "wordnet.npz"
    )
    outputs = []
    for run in ("a", "b"):
        o = tmp_path / run
        scores = stages.induce_semantic_taxonomy(
            activations=acts,
            hierarchy=tmp_path / "wordnet.npz",
            model="m",
            layer="l",
            k_min=2,
            k_max=5,
            seed=3,
            draws=300,
            permutations=199,
            out_csv=o / "t.csv",
            out_md=o / "t.md",
            out_clusters=o / "c.csv",
            out_scores=o / "s.json",
        )
        outputs.append([(o / f).read_bytes() for f in ("t.csv", "t.md", "c.csv", "s.json")])
    assert outputs[0] == outputs[1]
    text = (tmp_path / "a" / "t.csv").read_text()
    assert text.splitlines()[0] == (
        "k,cluster_1,cluster_2,cluster_3,cluster_4,cluster_5,mean_f1,"
        "f1_null,f1_null_ci_low,f1_null_ci_high,f1_null_n,f1_percentile,f1_p"
    )
    assert "Carnivore" in text and "Motor vehicle" in text and "Footwear" in text
    # the shown network's taxonomy carries its own null per k: at k = 3 the three WordNet
    # pairs are named perfectly, which exactly 1 of the 15 partitions of 6 classes into
    # three pairs achieves: p about 1/15 (300 draws), so one network at k = 3 is no proof
    with open(tmp_path / "a" / "t.csv") as fh:
        shown = {int(r["k"]): r for r in csv.DictReader(fh)}
    assert float(shown[3]["mean_f1"]) == 1.0 and 0.03 < float(shown[3]["f1_p"]) < 0.12
    assert int(shown[3]["f1_null_n"]) == 300 and float(shown[3]["f1_null_ci_high"]) <= 1.0
    assert float(shown[3]["f1_null"]) < float(shown[3]["mean_f1"])
    assert "null F1 [95 % range] draws, p" in (tmp_path / "a" / "t.md").read_text()
    trained, untrained = scores["groups"]["trained"], scores["groups"]["untrained"]
    # the structured (trained) vectors recover WordNet's pairs: well above the random partitions
    assert trained["mean_f1"]["n"] == 3 and trained["f1_p"] < 0.05 and trained["f1_percentile"] > 95
    assert trained["mean_f1"]["mean"] > trained["f1_null"]["hi"]
    # the unstructured (untrained) ones do not beat it at every k, and score lower
    assert untrained["mean_f1"]["mean"] < trained["mean_f1"]["mean"]
    assert scores["trained_vs_untrained"]["mean_f1"]["n"] == 3 and scores["trained_vs_untrained"]["mean_f1"]["diff"] > 0
    assert trained["mantel"]["permutations"] == 199 and 0 < trained["mantel"]["p"] <= 1


def test_activations_of_other_classes_than_the_hierarchy_are_an_error(tmp_path):
    from cnnpractice.io import save_npz

    acts = write_activations(tmp_path / "acts", ["a", "b", "c"], {"trained_s0": ("trained", 0, {"l": np.ones((3, 2))})})
    tree = {
        k: np.zeros((3,) if k != "membership" else (3, 1), dtype=v[0] if v[0] != "U" else "U1")
        for k, v in wordnet.HIERARCHY_ARRAYS.items()
    }
    tree.update(
        class_ids=np.array(["a", "b", "x"]), distance=np.zeros((3, 3), np.int64), membership=np.ones((3, 1), bool)
    )
    save_npz(tmp_path / "w.npz", **tree)
    with pytest.raises(ValueError, match="list different classes; rerun map_semantic_classes"):
        stages.induce_semantic_taxonomy(
            activations=acts,
            hierarchy=tmp_path / "w.npz",
            model="m",
            layer="l",
            k_min=2,
            k_max=2,
            seed=0,
            out_csv=tmp_path / "t.csv",
            out_md=tmp_path / "t.md",
            out_clusters=tmp_path / "c.csv",
            out_scores=tmp_path / "s.json",
        )


def test_missing_imagenet_names_the_config_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="imagenet.root: .* is not a prepared ImageNet folder"):
        sources.open_source(
            {"kind": "imagenet", "root": str(tmp_path / "none"), "config_key": "semantic.datasets.imagenet.root"},
            normalization=None,
            batch_size=2,
        )
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="the prepare_imagenet rule writes it from your copy"):
        sources.open_source({"kind": "imagenet", "root": str(tmp_path / "empty")}, normalization=None, batch_size=2)


def test_cifar100_prepare_writes_the_prepared_layout(tmp_path):
    raw = tmp_path / "raw" / cifar100.FOLDER
    raw.mkdir(parents=True)
    names = sorted(cifar100.SYNSETS)
    rng = np.random.default_rng(0)
    for split, per_class in (("train", 3), ("test", 2)):
        labels = np.repeat(np.arange(100), per_class).tolist()
        data = rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)
        (raw / split).write_bytes(pickle.dumps({"data": data, "fine_labels": labels}))
    (raw / "meta").write_bytes(pickle.dumps({"fine_label_names": names}))
    info = cifar100.prepare(tmp_path / "raw", tmp_path / "out", train_per_class=2, test_per_class=None, seed=1)
    assert (info["n_train"], info["n_test"]) == (200, 200) and info["classes"] == names
    from cnnpractice.data.prepared import load_prepared

    arrays = load_prepared(tmp_path / "out")
    assert arrays["train_x"].shape == (200, 3, 32, 32) and arrays["classes"] == names
    with pytest.raises(ValueError, match="class 'apple' has 3 images, fewer than the 4 asked for"):
        cifar100.prepare(tmp_path / "raw", tmp_path / "out2", train_per_class=4, test_per_class=None, seed=1)
