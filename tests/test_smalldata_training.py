"""Greedy layer-wise training stages, learned features and the small-data tables."""

import json

import numpy as np
import pytest
import torch

from cnnpractice.data.prepared import load_prepared
from cnnpractice.io import sha256_file
from cnnpractice.smalldata import training
from cnnpractice.smalldata.learned import classify, cnn_block_features
from cnnpractice.smalldata.tables import tabulate_features, tabulate_greedy

TRAINER = {"accelerator": "cpu", "devices": 1, "precision": "32-true", "deterministic": True, "progress_bar": False}
TRAINING = {
    "val_fraction": 0.25,
    "batch_size": 8,
    "max_epochs": 2,
    "lr": 0.01,
    "weight_decay": 0.0,
    "scheduler": "none",
    "label_smoothing": 0.0,
    "monitor": "val_loss",
}
ARCH = {"variant": "alexnet_simple", "geometry": "small", "width": 0.125, "dropout": 0.0}


def write_prepared(folder, n_train=24, n_test=12, size=16, classes=("a", "b", "c"), seed=0):
    """A prepared dataset whose classes differ by a bright square's position."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        y = np.arange(n) % len(classes)
        x = rng.integers(0, 60, (n, 1, size, size)).astype(np.uint8)
        for i, label in enumerate(y):
            x[i, 0, 2 + 4 * label : 6 + 4 * label, 4:12] = 250
        np.save(folder / f"{split}_x.npy", x)
        np.save(folder / f"{split}_y.npy", y.astype(np.int64))
    (folder / "classes.json").write_text(json.dumps({"classes": list(classes)}))
    return folder


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return write_prepared(tmp_path_factory.mktemp("prepared") / "toy")


def run_stage(prepared, out, kind, stage, previous=None, **kw):
    return training.train_stage(
        data_dir=prepared,
        out_dir=out,
        dataset="toy",
        arch="simple",
        arch_params=ARCH,
        kind=kind,
        stage=stage,
        training=TRAINING,
        trainer=TRAINER,
        seed=3,
        previous_ckpt=previous,
        **kw,
    )


def state(path):
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


@pytest.fixture(scope="module")
def greedy_runs(prepared, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    results = {}
    prev = None
    for k in (1, 2, 3, 4, 5):
        out = root / "greedy" / f"L{k}"
        results[("greedy", k)] = run_stage(prepared, out, "greedy", k, previous=prev)
        prev = out / "model.ckpt"
    for k in (3, 5):
        results[("full", k)] = run_stage(prepared, root / "full" / f"L{k}", "full", k)
    return root, results


def test_stage_k_loads_stage_k_minus_1_and_frozen_blocks_do_not_change(greedy_runs):
    root, _ = greedy_runs
    for k in (2, 3, 4, 5):
        before = state(root / "greedy" / f"L{k - 1}" / "model.ckpt")
        after = state(root / "greedy" / f"L{k}" / "model.ckpt")
        frozen = [key for key in before if key.startswith(tuple(f"net.blocks.{i}." for i in range(k - 1)))]
        assert frozen, "no frozen parameters found"
        for key in frozen:
            assert torch.equal(before[key], after[key]), f"L{k}: {key} changed although frozen"
    # the block trained at stage k does change during its own stage
    l1, l2 = state(root / "greedy" / "L1" / "model.ckpt"), state(root / "greedy" / "L2" / "model.ckpt")
    assert "net.blocks.1.0.weight" not in l1 and "net.blocks.1.0.weight" in l2


def test_trained_block_moves_away_from_its_initialisation(prepared, tmp_path):
    spec = training.stage_spec(ARCH, kind="greedy", stage=1, in_channels=1, n_classes=3, input_size=16)
    torch.manual_seed(0)
    run_stage(prepared, tmp_path / "L1", "greedy", 1)
    import pytorch_lightning as pl

    from cnnpractice.models import build_model

    pl.seed_everything(3, workers=True)
    init = build_model(spec).state_dict()
    trained = state(tmp_path / "L1" / "model.ckpt")
    assert not torch.equal(init["blocks.0.0.weight"], trained["net.blocks.0.0.weight"])


def test_full_training_freezes_nothing_and_records_the_stage(greedy_runs):
    root, results = greedy_runs
    res = results[("full", 5)]
    assert res["kind"] == "full" and res["stage"] == 5 and res["n_test"] == 12
    hp = torch.load(root / "full" / "L5" / "model.ckpt", map_location="cpu", weights_only=False)["hyper_parameters"]
    assert hp["model_spec"]["frozen_blocks"] == 0 and hp["model_spec"]["n_blocks"] == 5
    assert results[("greedy", 4)]["previous_ckpt_sha256"] == sha256_file(root / "greedy" / "L3" / "model.ckpt")


def test_full_epochs_total_multiplies_the_budget(prepared, tmp_path):
    res = run_stage(prepared, tmp_path / "F2", "full", 2, full_epochs="total")
    assert res["epochs_run"] == 2 * TRAINING["max_epochs"]
    with pytest.raises(ValueError, match="full_epochs"):
        run_stage(prepared, tmp_path / "F3", "full", 2, full_epochs="twice")


def test_greedy_stage_without_previous_checkpoint_is_an_error(prepared, tmp_path):
    with pytest.raises(ValueError, match="stage 1's checkpoint"):
        run_stage(prepared, tmp_path / "L2", "greedy", 2)


def test_missing_or_bad_prepared_files_are_named(tmp_path):
    folder = write_prepared(tmp_path / "bad")
    (folder / "test_y.npy").unlink()
    with pytest.raises(FileNotFoundError, match="test_y.npy"):
        load_prepared(folder)
    folder = write_prepared(tmp_path / "float")
    np.save(folder / "train_x.npy", np.zeros((24, 1, 16, 16), np.float32))
    with pytest.raises(ValueError, match="train_x.npy.*uint8"):
        load_prepared(folder)


def test_cnn_features_and_classification(greedy_runs, prepared, tmp_path):
    root, _ = greedy_runs
    outs = {b: tmp_path / f"conv{b}.npz" for b in range(1, 6)}
    shapes = cnn_block_features(
        data_dir=prepared, ckpt=root / "greedy" / "L5" / "model.ckpt", out_paths=outs, batch_size=5, accelerator="cpu"
    )
    channels = [6, 16, 24, 24, 16]  # alexnet_simple's 48, 128, 192, 192, 128 at width 1/8
    assert [shapes[b] for b in range(1, 6)] == [(24, c) for c in channels]
    again = tmp_path / "again.npz"
    cnn_block_features(
        data_dir=prepared,
        ckpt=root / "greedy" / "L5" / "model.ckpt",
        out_paths={3: again},
        batch_size=24,
        accelerator="cpu",
    )
    np.testing.assert_allclose(np.load(again)["test"], np.load(outs[3])["test"], rtol=1e-5, atol=1e-6)
    rows = classify(
        features=outs[1],
        out=tmp_path / "scores.json",
        classifiers=["logreg"],
        cv_folds=2,
        c_grid=[1.0],
        seed=0,
        dataset="toy",
        feature_set="simple_greedy_conv1",
    )
    assert rows[0]["feature_set"] == "simple_greedy_conv1" and 0 <= rows[0]["accuracy"] <= 1
    assert json.loads((tmp_path / "scores.json").read_text())[0]["classifier"] == "logreg"


def test_greedy_table_layout_and_gain(greedy_runs, tmp_path):
    root, results = greedy_runs
    paths = sorted(root.glob("*/L*/test.json"))
    rows = tabulate_greedy(results=paths, out_csv=tmp_path / "g.csv", out_md=tmp_path / "g.md", talk_keys={"toy": None})
    names = [r["row"] for r in rows]
    assert names == ["L1", "L2", "L3", "L4", "L5", "Full L3", "Full L5", "gain"]
    best_greedy = max(results[("greedy", k)]["test_accuracy"] for k in range(1, 6))
    best_full = max(results[("full", k)]["test_accuracy"] for k in (3, 5))
    gain = rows[-1]["accuracy"]
    assert best_full > 0, results  # the toy networks learned something: the gain is defined
    assert gain == pytest.approx(best_greedy / best_full - 1)
    md = (tmp_path / "g.md").read_text()
    assert "| row | toy |" in md and "Full L5" in md


def test_greedy_table_puts_the_talks_numbers_beside_ours(tmp_path):
    results = []
    for kind, k, acc in [("greedy", 1, 0.5), ("greedy", 2, 0.8), ("full", 5, 0.4)]:
        path = tmp_path / f"{kind}{k}.json"
        path.write_text(
            json.dumps({"arch": "alexnet", "kind": kind, "stage": k, "dataset": "flowers102", "test_accuracy": acc})
        )
        results.append(path)
    rows = tabulate_greedy(
        results=results, out_csv=tmp_path / "g.csv", out_md=tmp_path / "g.md", talk_keys={"flowers102": "flowers"}
    )
    by_row = {r["row"]: r for r in rows}
    assert by_row["L1"]["talk_accuracy"] == 0.579 and by_row["Full L5"]["talk_accuracy"] == 0.706
    assert by_row["gain"]["accuracy"] == pytest.approx(0.8 / 0.4 - 1)
    assert by_row["gain"]["talk_accuracy"] == 0.140
    md = (tmp_path / "g.md").read_text()
    assert "flowers102 (talk)" in md and "+100.0%" in md and "+14.0%" in md


def test_features_table(tmp_path):
    scores = []
    for name, acc in (("hog", 0.8), ("alexnet_greedy_conv1", 0.7)):
        path = tmp_path / f"{name}.json"
        path.write_text(
            json.dumps(
                [
                    {"dataset": "fashion_mnist", "feature_set": name, "classifier": c, "accuracy": acc, "auc": None}
                    for c in ("svm", "logreg")
                ]
            )
        )
        scores.append(path)
    rows = tabulate_features(scores=scores, out_csv=tmp_path / "f.csv", out_md=tmp_path / "f.md")
    assert [r["feature_set"] for r in rows] == ["hog", "hog", "alexnet_greedy_conv1", "alexnet_greedy_conv1"]
    md = (tmp_path / "f.md").read_text()
    assert "| feature_set | fashion_mnist logreg | fashion_mnist svm |" in md
    assert "hog_svm 0.926" in md
