"""Greedy layer-wise training stages, learned features and the small-data tables.

(The choices between runs -- learning rate, epoch, stage, C -- and the poison tests:
tests/test_smalldata_selection.py.)"""

import json

import numpy as np
import pytest
import torch

from cnnpractice import stats
from cnnpractice.data.prepared import load_prepared
from cnnpractice.io import sha256_file
from cnnpractice.smalldata import training
from cnnpractice.smalldata.greedy_table import tabulate_greedy, verdict
from cnnpractice.smalldata.learned import classify, cnn_block_features, pooled_blocks
from cnnpractice.smalldata.tables import tabulate_features

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
    ckpt = root / "greedy" / "L5" / "model.ckpt"
    shapes = cnn_block_features(
        data_dir=prepared,
        ckpt=ckpt,
        out=tmp_path / "f.npz",
        name="s_greedy",
        grids=[1, 2, 4],
        batch_size=5,
        accelerator="cpu",
    )
    channels = [6, 16, 24, 24, 16]  # alexnet_simple's 48, 128, 192, 192, 128 at width 1/8
    # 16 px: the blocks' maps are 7, 3, 3, 3, 1 pixels wide; a grid finer than the map is left out
    expected = {f"s_greedy_conv{b}": (24, c) for b, c in enumerate(channels, start=1)}
    expected |= {f"s_greedy_conv{b}_2x2": (24, 4 * c) for b, c in enumerate(channels[:4], start=1)}
    expected |= {"s_greedy_conv1_4x4": (24, 16 * channels[0])}
    assert shapes == expected
    cnn_block_features(
        data_dir=prepared,
        ckpt=ckpt,
        out=tmp_path / "again.npz",
        name="s_greedy",
        grids=[1],
        batch_size=24,
        accelerator="cpu",
    )
    a, b = np.load(tmp_path / "again.npz"), np.load(tmp_path / "f.npz")
    np.testing.assert_allclose(a["s_greedy_conv3.test"], b["s_greedy_conv3.test"], rtol=1e-5, atol=1e-6)
    rows = classify(
        features=tmp_path / "f.npz",
        out=tmp_path / "scores.json",
        classifiers=["logreg"],
        cv_folds=2,
        c_grid=[1.0],
        seed=0,
        dataset="toy",
        feature_set="s_greedy_seed3",
    )
    assert {r["feature_set"] for r in rows} == set(expected)
    assert {r["feature_file"] for r in rows} == {"s_greedy_seed3"}
    assert {r["feature_set"]: r["n_features"] for r in rows} == {k: v[1] for k, v in expected.items()}
    assert json.loads((tmp_path / "scores.json").read_text())[0]["classifier"] == "logreg"


def test_pooled_blocks_global_average_is_the_block_mean_and_grids_keep_where_features_fire():
    from cnnpractice.models import build_model

    spec = training.stage_spec(ARCH, kind="full", stage=5, in_channels=1, n_classes=3, input_size=28)
    net = build_model(spec).eval()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        pooled = pooled_blocks(net, x, [1, 2, 3, 4, 5], [1, 2, 4])
        means = net.block_features(x)
        first = net.blocks[0](x)  # (4, 6, 13, 13)
    for b in range(1, 6):
        torch.testing.assert_close(pooled[(b, 1)], means[b])
    assert (5, 4) not in pooled and (5, 2) in pooled  # conv5's map is 2 x 2 at 28 px
    assert pooled[(1, 4)].shape == (4, 6 * 16)
    # the top-left cell of conv1's 4 x 4 grid is the mean of the map's top-left region
    torch.testing.assert_close(pooled[(1, 4)].view(4, 6, 4, 4)[:, :, 0, 0], first[:, :, :4, :4].mean(dim=(2, 3)))


def selection(kind, seed, accs, chosen, budgets=("per_update", "total")):
    """A selection.json as schemes.py writes it; ``accs``: stage -> test accuracy."""

    def record(acc, lr=0.01, epoch=3, score=None):
        return {"lr": lr, "best_epoch": epoch, "score": score if score is not None else 1 - acc} | {
            "test_accuracy": acc,
            "n_train": 80,
            "n_val": 20,
            "n_test": 100,
        }

    common = {"dataset": "fashion_mnist", "arch": "alexnet", "kind": kind, "seed": seed, "monitor": "val_loss"}
    if kind == "greedy":
        return common | {"stages": {k: record(a) for k, a in accs.items()}, "chosen_stage": chosen}
    return common | {
        "budgets": {b: {k: record(a + 0.05 * i) for k, a in accs.items()} for i, b in enumerate(budgets)},
        "chosen_stage": {b: chosen for b in budgets},
    }


def write_selections(folder, greedy_acc, full_acc):
    """Three seeds; greedy's chosen stage L3, end to end's Full L5."""
    paths = []
    for i, seed in enumerate((1, 2, 3)):
        for kind, accs, chosen in (
            ("greedy", {f"L{k}": greedy_acc[i] - 0.01 * abs(3 - k) for k in range(1, 6)}, "L3"),
            ("full", {"L3": full_acc[i] - 0.02, "L5": full_acc[i]}, "L5"),
        ):
            path = folder / f"{kind}{seed}.json"
            path.write_text(json.dumps(selection(kind, seed, accs, chosen)))
            paths.append(path)
    return paths


def test_greedy_table_over_seeds_paired_with_chance_and_gain(tmp_path):
    greedy_acc, full_acc = [0.80, 0.82, 0.81], [0.70, 0.74, 0.71]
    paths = write_selections(tmp_path, greedy_acc, full_acc)
    labels = np.array([0] * 60 + [1] * 40)
    rows = tabulate_greedy(
        selections=paths,
        out_csv=tmp_path / "g.csv",
        out_md=tmp_path / "g.md",
        talk_keys={"fashion_mnist": None},
        test_labels={"fashion_mnist": labels},
    )
    by = {(r["row"], r.get("budget")): r for r in rows}
    chance = by[("chance (majority class)", None)]
    assert chance["accuracy"] == 0.6 and chance["accuracy_n"] == 100 and chance["accuracy_ci_low"] < 0.6
    l3 = by[("L3", None)]
    expected = stats.mean_ci(greedy_acc)
    assert l3["accuracy"] == pytest.approx(expected["mean"]) and l3["accuracy_n"] == 3
    assert l3["accuracy_ci_low"] == pytest.approx(expected["lo"]) and l3["chosen_lr"] == "0.01;0.01;0.01"
    assert by[("greedy, stage chosen on validation", None)]["chosen_stage"] == "L3;L3;L3"
    diff = by[("greedy - end to end (paired by seed)", "per_update")]
    paired = stats.paired(greedy_acc, full_acc)
    assert diff["accuracy"] == pytest.approx(paired["diff"]) and diff["p_t"] == pytest.approx(paired["p_t"])
    gain = by[("gain (greedy / end to end - 1)", "per_update")]
    assert gain["accuracy"] == pytest.approx(np.mean(np.array(greedy_acc) / np.array(full_acc) - 1))
    # the total budget's end-to-end runs are 0.05 better in this fixture
    total = by[("greedy - end to end (paired by seed)", "total")]
    assert total["accuracy"] == pytest.approx(paired["diff"] - 0.05)
    md = (tmp_path / "g.md").read_text()
    assert "## Verdict" in md and "greedy training is better" in md
    with open(tmp_path / "g.csv") as fh:
        header = fh.readline().strip().split(",")
    assert header[4:8] == ["accuracy", "accuracy_ci_low", "accuracy_ci_high", "accuracy_n"]


def test_greedy_table_puts_the_talks_numbers_beside_ours(tmp_path):
    paths = write_selections(tmp_path, [0.8, 0.8, 0.8], [0.7, 0.7, 0.7])
    for path in paths:
        path.write_text(path.read_text().replace("fashion_mnist", "flowers102"))
    rows = tabulate_greedy(
        selections=paths,
        out_csv=tmp_path / "g.csv",
        out_md=tmp_path / "g.md",
        talk_keys={"flowers102": "flowers"},
        test_labels={"flowers102": np.arange(10)},
    )
    by = {(r["row"], r.get("budget")): r for r in rows}
    assert by[("L1", None)]["talk_accuracy"] == 0.579 and by[("Full L5", "per_update")]["talk_accuracy"] == 0.706
    assert by[("gain (greedy / end to end - 1)", "per_update")]["talk_accuracy"] == 0.140
    assert by[("Full L5", "total")]["talk_accuracy"] is None
    assert "+14.0%" in (tmp_path / "g.md").read_text()


@pytest.mark.parametrize(
    "greedy, full, expected",
    [
        ([0.80, 0.82, 0.81], [0.70, 0.74, 0.71], "greedy training is better"),
        ([0.70, 0.74, 0.71], [0.80, 0.82, 0.81], "end-to-end training is better"),
        ([0.80, 0.70, 0.75], [0.74, 0.76, 0.75], "no difference detected"),
        ([0.80, 0.82], [0.70, 0.74], "fewer than 3 seeds: no verdict"),
    ],
)
def test_verdict_follows_the_paired_interval(greedy, full, expected):
    assert expected in verdict(stats.paired(greedy, full), "per_update")


def test_mismatched_seeds_are_an_error(tmp_path):
    paths = write_selections(tmp_path, [0.8, 0.8, 0.8], [0.7, 0.7, 0.7])
    paths[-1].unlink()
    with pytest.raises(ValueError, match="greedy seeds .* and end-to-end seeds .* differ"):
        tabulate_greedy(
            selections=paths[:-1],
            out_csv=tmp_path / "g.csv",
            out_md=tmp_path / "g.md",
            talk_keys={"fashion_mnist": None},
            test_labels={"fashion_mnist": np.zeros(3)},
        )


def score_rows(name, accs, n_test=200, feature_files=None, dims=10):
    files = feature_files or [name] * len(accs)
    return [
        {"dataset": "fashion_mnist", "feature_set": name, "feature_file": f, "classifier": "svm", "accuracy": a}
        | {
            "auc": None,
            "best_C": 0.1,
            "cv_scores": [0.5, 0.6, 0.7],
            "n_features": dims,
            "n_train": 50,
            "n_test": n_test,
        }
        for a, f in zip(accs, files)
    ]


def test_features_table_intervals_dims_and_chance(tmp_path):
    scores = tmp_path / "s.json"
    rows = score_rows("hog", [0.8], dims=1296)
    rows += score_rows("a_full_conv3_4x4", [0.7, 0.72, 0.74], feature_files=[f"a_full_seed{s}" for s in (1, 2, 3)])
    rows += score_rows("a_full_conv3", [0.6], feature_files=["a_full_seed1"])
    scores.write_text(json.dumps(rows))
    out = tabulate_features(
        scores=[scores],
        out_csv=tmp_path / "f.csv",
        out_md=tmp_path / "f.md",
        test_labels={"fashion_mnist": np.array([0] * 30 + [1] * 170)},
    )
    by = {r["feature_set"]: r for r in out}
    assert [r["feature_set"] for r in out] == ["chance (majority class)", "hog", "a_full_conv3", "a_full_conv3_4x4"]
    assert by["chance (majority class)"]["accuracy"] == 0.85 and by["chance (majority class)"]["accuracy_n"] == 200
    wilson = stats.proportion_ci(160, 200)
    assert by["hog"]["accuracy_ci_low"] == pytest.approx(wilson["lo"]) and by["hog"]["accuracy_n"] == 200
    assert by["hog"]["interval"].startswith("Wilson") and by["hog"]["n_features"] == 1296
    over = stats.mean_ci([0.7, 0.72, 0.74])
    assert by["a_full_conv3_4x4"]["accuracy_n"] == 3 and by["a_full_conv3_4x4"]["interval"] == "t, over seeds"
    assert by["a_full_conv3_4x4"]["accuracy_ci_high"] == pytest.approx(over["hi"])
    assert by["a_full_conv3_4x4"]["seeds"] == "1;2;3"
    assert by["hog"]["cv_accuracy"] == pytest.approx(0.6) and by["hog"]["cv_accuracy_n"] == 3
    md = (tmp_path / "f.md").read_text()
    assert "| hog | 1296 | 0.800 [" in md and "n=200" in md and "hog_svm 0.926" in md
